// Composite rules, as Aodh 15 evaluates them: an and/or tree of threshold rules. The tree
// is read twice, as an "alarm" expression (a leaf is true when its rule is in alarm) and
// its dual "ok" expression; leaves are fetched lazily and in order, with the short-circuits
// of and/or, because which leaves were evaluated shows in the reason ("due to rules: ...").
// Leaves that trend (a mix of points) count only on a second pass, once every leaf is known.
import type { AlarmState, CompositeRule } from '../model.js';
import type { Decision, RuleEvaluation } from './threshold.js';

export type CompositeLeaf = Exclude<CompositeRule, { and: CompositeRule[] } | { or: CompositeRule[] }>;

const LEAF_TYPES = new Set<string>([
  'gnocchi_resources_threshold', 'gnocchi_aggregation_by_metrics_threshold', 'gnocchi_aggregation_by_resources_threshold',
]);

export interface CompositeReasonData {
  type: 'composite';
  composition_form: string;
  causative_rules: Record<string, CompositeLeaf>;
}

const STATE_CHANGE: Record<AlarmState, string> = {
  alarm: 'outside their threshold.',
  ok: 'inside their threshold.',
  'insufficient data': 'state evaluated to unknown.',
};

interface Target {
  name: string;
  rule: CompositeLeaf;
  state: AlarmState | null;
  trending: 'ok' | 'alarm' | null;
  evaluated: boolean;
}

type Expr =
  | { op: 'and' | 'or'; items: Expr[] }
  | { target: Target; wants: 'alarm' | 'ok' }
  | { invalid: true };

function parse(rule: CompositeRule, targets: Target[]): [Expr, Expr] {
  if ('and' in rule || 'or' in rule) {
    const isAnd = 'and' in rule;
    const children = (isAnd ? (rule as { and: CompositeRule[] }).and : (rule as { or: CompositeRule[] }).or).map((r) => parse(r, targets));
    const alarms = children.map((c) => c[0]);
    const oks = children.map((c) => c[1]);
    return isAnd
      ? [{ op: 'and', items: alarms }, { op: 'or', items: oks }]
      : [{ op: 'or', items: alarms }, { op: 'and', items: oks }];
  }
  if (!LEAF_TYPES.has((rule as { type?: string }).type ?? '')) return [{ invalid: true }, { invalid: true }];
  const target: Target = { name: `rule${targets.length + 1}`, rule, state: null, trending: null, evaluated: false };
  targets.push(target);
  return [{ target, wants: 'alarm' }, { target, wants: 'ok' }];
}

function form(e: Expr): string {
  if ('op' in e) return `(${e.items.map(form).join(` ${e.op} `)})`;
  if ('target' in e) return e.target.name;
  return 'False';
}

export type LeafEvaluator = (leaf: CompositeLeaf) => Promise<RuleEvaluation>;

async function settle(t: Target, leaf: LeafEvaluator): Promise<void> {
  if (t.evaluated) return;
  const ev = await leaf(t.rule);
  if (ev.kind === 'decided') t.state = ev.state;
  else if (ev.kind === 'trending') t.trending = ev.trending;
  else t.state = 'insufficient data';
  t.evaluated = true;
}

async function truth(e: Expr, leaf: LeafEvaluator): Promise<boolean> {
  if ('op' in e) {
    for (const item of e.items) {
      const v = await truth(item, leaf);
      if (e.op === 'and' && !v) return false;
      if (e.op === 'or' && v) return true;
    }
    return e.op === 'and';
  }
  if ('target' in e) {
    await settle(e.target, leaf);
    return e.target.state === e.wants;
  }
  return false;
}

/**
 * Evaluates a composite alarm; null when there is nothing to record or announce.
 * `leaf` evaluates one threshold rule (it may throw to abort the whole evaluation).
 */
export async function evaluateComposite(alarm: { state: AlarmState; repeat_actions: boolean }, rule: CompositeRule,
                                        leaf: LeafEvaluator): Promise<Decision<CompositeReasonData> | null> {
  const targets: Target[] = [];
  const [alarmExpr, okExpr] = parse(rule, targets);
  const expression = form(alarmExpr);

  const reason = (state: AlarmState): { reason: string; reasonData: CompositeReasonData } => {
    const causative: Record<string, CompositeLeaf> = {};
    for (const t of targets) if (t.state === state) causative[t.name] = t.rule;
    const rules = Object.keys(causative).sort().join(', ');
    const verb = alarm.state !== state ? 'transition to' : 'remaining as';
    return {
      reason: `Composite rule alarm with composition form: ${expression} ${verb} ${state}, due to rules: ${rules} ${STATE_CHANGE[state]}`,
      reasonData: { type: 'composite', composition_form: expression, causative_rules: causative },
    };
  };
  const refresh = (state: AlarmState): Decision<CompositeReasonData> | null => {
    const r = reason(state);
    if (state !== alarm.state) return { state, ...r, changed: true };
    return alarm.repeat_actions ? { state, ...r, changed: false } : null;
  };
  const sufficient = async (): Promise<{ decision: Decision<CompositeReasonData> | null } | null> => {
    for (const t of targets) {
      if (t.trending === null) continue;
      // Aodh's rule for trending leaves on the second pass: from insufficient data they
      // follow their trend; otherwise they count as the opposite of it.
      if (alarm.state === 'insufficient data') t.state = t.trending;
      else t.state = t.trending === 'alarm' ? 'ok' : 'alarm';
    }
    if (await truth(alarmExpr, leaf)) return { decision: refresh('alarm') };
    if (await truth(okExpr, leaf)) return { decision: refresh('ok') };
    return null;
  };

  let outcome = await sufficient();
  if (outcome === null) {
    for (const t of targets) await settle(t, leaf);
    outcome = await sufficient();
  }
  if (outcome !== null) return outcome.decision;
  if (alarm.state === 'insufficient data') return null;
  return { state: 'insufficient data', ...reason('insufficient data'), changed: true };
}
