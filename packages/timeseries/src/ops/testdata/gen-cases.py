# Expected results computed by Gnocchi 4.4.2's own processor (reference), for Tally's unit tests.
import json, math, random, numpy
from gnocchi import carbonara
from gnocchi.rest.aggregates import processor, api as A, exceptions
class M:  # minimal metric
    def __init__(s, i): s.id = i
def ref(i, agg): return processor.MetricReference(M(i), agg)
def series(g, pts):
    ts = [numpy.datetime64(1425652437 + t, 's').astype('datetime64[ns]') for t, _ in pts]
    return carbonara.AggregatedTimeSerie.from_data(carbonara.Aggregation('mean', numpy.timedelta64(g, 's'), None), ts, [v for _, v in pts])
def f(x):
    x = float(x)
    return 'NaN' if math.isnan(x) else ('Infinity' if x == math.inf else ('-Infinity' if x == -math.inf else x))
random.seed(7)
A_PTS = [(0, 43.1), (15, 12.0), (18, -16.0), (75, 9.0), (78, 11.0)]
B_PTS = [(0, 2.0), (15, 4.0), (18, 5.0), (135, 10.0), (138, 15.0)]
R_PTS = [(i, round(random.uniform(-100, 100), 3)) for i in range(0, 60)]
R2_PTS = [(i, round(random.uniform(-1e4, 1e4), 5)) for i in range(0, 60) if i % 7]
cases = []
def case(name, ops, inputs, fill=None, overlap=100.0, start=None, stop=None):
    tss = [(ref(i, agg), series(g, pts)) for (i, agg, g, pts) in inputs]
    node = A.OperationsSchema(ops)
    s = None if start is None else numpy.datetime64(1425652437 + start, 's')
    e = None if stop is None else numpy.datetime64(1425652437 + stop, 's')
    try:
        out = processor.aggregated(tss, node, s, e, overlap, fill)
        res = {}
        for k, v in out.items():
            if k == 'aggregated':
                res[k] = [[int(t.astype('datetime64[ns]').astype('int64')), int(g / numpy.timedelta64(1, 's')), f(x)] for t, g, x in v]
            else:
                res[k] = {a: [[int(t.astype('datetime64[ns]').astype('int64')), int(g / numpy.timedelta64(1, 's')), f(x)] for t, g, x in l] for a, l in v.items()}
        expected = {'ok': res}
    except exceptions.UnAggregableTimeseries as ex:
        expected = {'error': ex.reason, 'detail': [list(x) for x in ex.references]}
    cases.append({'name': name, 'ops': ops, 'inputs': [[i, agg, g, pts] for (i, agg, g, pts) in inputs], 'fill': fill,
                  'overlap': overlap, 'start': start, 'stop': stop, 'expected': expected})
ab = [('a', 'mean', 1, A_PTS), ('b', 'mean', 1, B_PTS)]
case('metric list dropna', ['metric', ['a', 'mean'], ['b', 'mean']], ab, fill='dropna')
case('metric list null', ['metric', ['a', 'mean'], ['b', 'mean']], ab, fill='null')
case('metric list fill 0', ['metric', ['a', 'mean'], ['b', 'mean']], ab, fill=0.0)
case('overlap 100', ['metric', ['a', 'mean'], ['b', 'mean']], ab)
case('overlap 100 bounded', ['metric', ['a', 'mean'], ['b', 'mean']], ab, stop=200)
case('overlap 40 bounded', ['metric', ['a', 'mean'], ['b', 'mean']], ab, overlap=40.0, start=0, stop=200)
case('no overlap', ['metric', ['a', 'mean'], ['c', 'mean']], [ab[0], ('c', 'mean', 1, [(500, 1.0)])])
for agg in ['mean', 'median', 'std', 'min', 'max', 'sum', 'var', 'count', 'rate:mean', 'rate:max']:
    case('aggregate %s null' % agg, ['aggregate', agg, ['metric', ['a', 'mean'], ['b', 'mean']]], ab, fill='null')
    case('rolling %s 3' % agg, ['rolling', agg, 3, ['metric', 'r', 'mean']], [('r', 'mean', 1, R_PTS)])
    case('rolling %s 20 nan' % agg, ['rolling', agg, 20, ['metric', ['r', 'mean'], ['s', 'mean']]], [('r', 'mean', 1, R_PTS), ('s', 'mean', 1, R2_PTS)], fill='null')
for agg in ['mean', 'median', 'std', 'min', 'max', 'sum', 'count', 'rate:mean', 'rate:min']:
    case('resample %s nan' % agg, ['aggregate', 'mean', ['resample', agg, 7, ['metric', ['r', 'mean'], ['s', 'mean']]]], [('r', 'mean', 1, R_PTS), ('s', 'mean', 1, R2_PTS)], fill='null')
    case('resample %s' % agg, ['resample', agg, 10, ['metric', ['r', 'mean'], ['s', 'mean']]], [('r', 'mean', 1, R_PTS), ('s', 'mean', 1, R2_PTS)], fill='dropna')
for op in ['+', '-', '*', '/', '%', '**', 'eq', 'ne', '<', '>=', 'clip_min', 'clip_max']:
    case('binary %s' % op, [op, ['metric', ['a', 'mean'], ['b', 'mean']], 3.0], ab, fill='null')
    case('binary %s neg' % op, [op, -2.5, ['metric', 'a', 'mean']], ab[:1], fill='null')
case('binary series', ['-', ['metric', 'a', 'mean'], ['metric', 'b', 'mean']], ab, fill=1.5)
case('binary mismatch', ['-', ['metric', 'a', 'mean'], ['rateofchange', ['metric', 'b', 'mean']]], ab, fill=1.5)
for op in ['abs', 'neg', 'cos', 'sin', 'tan', 'floor', 'ceil', 'rateofchange']:
    case('unary %s' % op, [op, ['metric', ['a', 'mean'], ['b', 'mean']]], ab, fill='dropna')
case('clip', ['clip', ['metric', ['a', 'mean'], ['b', 'mean']], 0.0, 10.0], ab, fill='null')
case('rolling too long', ['rolling', 'mean', 9, ['metric', 'a', 'mean']], ab[:1], fill='dropna')
case('two granularities', ['aggregate', 'sum', ['metric', ['a', 'mean'], ['b', 'mean']]],
     ab + [('a', 'mean', 60, [(0, 1.5), (60, 2.5)]), ('b', 'mean', 60, [(0, 4.0), (120, 8.0)])], fill=0.0)
print(json.dumps(cases))
