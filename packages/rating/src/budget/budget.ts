// Budgets per project: an amount of money per calendar month (UTC). When the month's
// spending (or, for a budget that asks for it, the month's forecast) reaches the amount, an
// alarm fires in Tally's alarming service, whose notifier delivers it to the budget's
// actions. The alarm is an Aodh `event` alarm of the project on the event type
// `tally.budget.exceeded` matching the budget's id; the check posts that event to the alarm
// API, so that Aodh's clients, the notifier and the alarm history see an ordinary alarm.
// A budget fires at most once per month: the month it fired in is kept with it.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { Decimal } from 'decimal.js';
import type { RatingStore } from '../model.js';
import { forecastMonth, monthOf } from '../forecast/index.js';

export type Dialect = 'sqlite' | 'postgres';

/** A schema step, in the shape of the alarming service's runner (module, version, up). */
export interface BudgetMigration {
  module: string;
  version: number;
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

export const BUDGET_MIGRATIONS: readonly BudgetMigration[] = [{
  module: 'rating_budget',
  version: 1,
  name: 'budgets per project',
  async up(db) {
    await db.schema.createTable('rating_budget')
      .addColumn('budget_id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('amount', 'varchar(64)', (c) => c.notNull())
      .addColumn('currency', 'varchar(3)', (c) => c.notNull())
      .addColumn('period', 'varchar(16)', (c) => c.notNull())
      .addColumn('on_forecast', 'integer', (c) => c.notNull())
      .addColumn('alarm_actions', 'text', (c) => c.notNull())
      .addColumn('alarm_id', 'varchar(36)')
      .addColumn('fired_month', 'varchar(7)')
      .execute();
    await db.schema.createIndex('rating_budget_project').on('rating_budget').column('project_id').execute();
  },
}];

export const BUDGET_EVENT_TYPE = 'tally.budget.exceeded';

export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

export interface Budget {
  budget_id: string;
  project_id: string;
  /** Decimal string > 0. */
  amount: string;
  currency: string;
  period: 'month';
  /** Fire when the month's forecast reaches the amount, not only the spending. */
  on_forecast: boolean;
  /** Where the notifier delivers the alarm (http://, https://, log://...). */
  alarm_actions: string[];
  alarm_id: string | null;
  /** `YYYY-MM` of the month the budget last fired in. */
  fired_month: string | null;
}

interface Row {
  budget_id: string; project_id: string; amount: string; currency: string; period: string;
  on_forecast: number | boolean; alarm_actions: string; alarm_id: string | null; fired_month: string | null;
}

const fromRow = (r: Row): Budget => ({
  budget_id: r.budget_id, project_id: r.project_id, amount: r.amount, currency: r.currency, period: 'month',
  on_forecast: Boolean(r.on_forecast), alarm_actions: JSON.parse(r.alarm_actions) as string[], alarm_id: r.alarm_id, fired_month: r.fired_month,
});

export class BudgetStore {
  constructor(readonly db: Kysely<unknown>) {}

  async create(b: { project_id: string; amount: string; currency: string; on_forecast?: boolean; alarm_actions?: string[] }): Promise<Budget> {
    if (!/^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(b.amount) || new Decimal(b.amount).lte(0)) throw new BudgetError(`amount: expected a positive decimal string, got "${b.amount}"`);
    if (!/^[A-Z]{3}$/.test(b.currency)) throw new BudgetError(`currency: expected an ISO 4217 code, got "${b.currency}"`);
    if (b.project_id === '') throw new BudgetError('project_id: expected a project');
    const budget: Budget = {
      budget_id: randomUUID(), project_id: b.project_id, amount: b.amount, currency: b.currency, period: 'month',
      on_forecast: b.on_forecast ?? false, alarm_actions: b.alarm_actions ?? [], alarm_id: null, fired_month: null,
    };
    await sql`insert into rating_budget (budget_id, project_id, amount, currency, period, on_forecast, alarm_actions, alarm_id, fired_month)
      values (${budget.budget_id}, ${budget.project_id}, ${budget.amount}, ${budget.currency}, ${budget.period}, ${budget.on_forecast ? 1 : 0},
              ${JSON.stringify(budget.alarm_actions)}, ${null}, ${null})`.execute(this.db);
    return budget;
  }

  async list(projectId?: string): Promise<Budget[]> {
    const r = projectId === undefined
      ? await sql<Row>`select * from rating_budget order by project_id, budget_id`.execute(this.db)
      : await sql<Row>`select * from rating_budget where project_id = ${projectId} order by budget_id`.execute(this.db);
    return r.rows.map(fromRow);
  }

  async delete(budgetId: string): Promise<boolean> {
    const r = await sql`delete from rating_budget where budget_id = ${budgetId}`.execute(this.db);
    return (r.numAffectedRows ?? 0n) > 0n;
  }

  async setAlarm(budgetId: string, alarmId: string): Promise<void> {
    await sql`update rating_budget set alarm_id = ${alarmId} where budget_id = ${budgetId}`.execute(this.db);
  }

  /** Marks the budget fired in `month`; false when it already was (another checker won). */
  async markFired(budgetId: string, month: string): Promise<boolean> {
    const r = await sql`update rating_budget set fired_month = ${month}
      where budget_id = ${budgetId} and (fired_month is null or fired_month <> ${month})`.execute(this.db);
    return (r.numAffectedRows ?? 0n) > 0n;
  }
}

/** Tally's alarm API (Aodh v2) over HTTP, with the headers that say who calls (a token, or noauth's identity). */
export class AlarmApiClient {
  constructor(readonly url: string, readonly headers: Record<string, string>, readonly fetchImpl: typeof fetch = fetch) {}

  async #call(method: string, path: string, body: unknown): Promise<unknown> {
    const res = await this.fetchImpl(`${this.url.replace(/\/$/, '')}${path}`, {
      method, headers: { ...this.headers, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new BudgetError(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return text === '' ? null : JSON.parse(text);
  }

  /** Creates the budget's event alarm in the budget's project; returns its id. */
  async createBudgetAlarm(b: Budget): Promise<string> {
    const a = await this.#call('POST', '/v2/alarms', {
      name: `budget-${b.budget_id}`,
      description: `Budget of ${b.amount} ${b.currency} per month reached`,
      type: 'event', project_id: b.project_id, severity: 'moderate', alarm_actions: b.alarm_actions, repeat_actions: false,
      event_rule: { event_type: BUDGET_EVENT_TYPE, query: [{ field: 'traits.budget_id', op: 'eq', type: 'string', value: b.budget_id }] },
    }) as { alarm_id: string };
    return a.alarm_id;
  }

  /** An event alarm already in alarm does not fire again: a new month starts from ok. */
  async resetAlarm(alarmId: string): Promise<void> {
    await this.#call('PUT', `/v2/alarms/${encodeURIComponent(alarmId)}/state`, 'ok');
  }

  async postBudgetEvent(b: Budget, c: { month: string; spent: string; forecast: string; generated: Date }): Promise<void> {
    await this.#call('POST', '/v2/events', {
      event_type: BUDGET_EVENT_TYPE, message_id: randomUUID(), generated: c.generated.toISOString().replace('Z', ''),
      traits: [['project_id', 1, b.project_id], ['budget_id', 1, b.budget_id], ['month', 1, c.month], ['amount', 1, b.amount],
        ['currency', 1, b.currency], ['spent', 1, c.spent], ['forecast', 1, c.forecast]],
      raw: { budget_id: b.budget_id, project_id: b.project_id, amount: b.amount, currency: b.currency, month: c.month, spent: c.spent, forecast: c.forecast },
    });
  }
}

export interface BudgetCrossing {
  budget: Budget;
  month: string;
  spent: string;
  forecast: string;
  /** What reached the amount. */
  by: 'spending' | 'forecast';
  alarm_id: string;
}

const monthName = (atNs: bigint): string => new Date(Number(monthOf(atNs).begin / 1_000_000n)).toISOString().slice(0, 7);

/**
 * Checks every budget against its project's rated points of the month holding `atNs` and
 * fires the alarm of each budget reached and not yet fired this month. The month is marked
 * fired after the event was taken, so a failure on the way is retried at the next check.
 */
export async function checkBudgets(store: BudgetStore, rated: Pick<RatingStore, 'readRated'>, alarms: AlarmApiClient, atNs: bigint): Promise<BudgetCrossing[]> {
  const { begin } = monthOf(atNs);
  const month = monthName(atNs);
  const out: BudgetCrossing[] = [];
  for (const b of await store.list()) {
    if (b.fired_month === month) continue;
    const f = forecastMonth(b.project_id, await rated.readRated(b.project_id, begin, atNs), atNs);
    const amount = new Decimal(b.amount);
    const by = new Decimal(f.spent).gte(amount) ? 'spending' : b.on_forecast && new Decimal(f.forecast).gte(amount) ? 'forecast' : null;
    if (by === null) continue;
    let alarmId = b.alarm_id;
    if (alarmId === null) {
      alarmId = await alarms.createBudgetAlarm(b);
      await store.setAlarm(b.budget_id, alarmId);
    } else if (b.fired_month !== null) {
      await alarms.resetAlarm(alarmId);
    }
    await alarms.postBudgetEvent(b, { month, spent: f.spent, forecast: f.forecast, generated: new Date(Number(atNs / 1_000_000n)) });
    if (await store.markFired(b.budget_id, month)) out.push({ budget: { ...b, alarm_id: alarmId }, month, spent: f.spent, forecast: f.forecast, by, alarm_id: alarmId });
  }
  return out;
}
