export { AlarmApiClient, BUDGET_EVENT_TYPE, BUDGET_MIGRATIONS, BudgetError, BudgetStore, checkBudgets,
  type Budget, type BudgetCrossing, type BudgetMigration } from './budget.js';
