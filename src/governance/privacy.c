/*
 * privacy.c
 *		Differential privacy, enforced: for a reader a privacy policy applies
 *		to, a query over the product is rewritten in the planner hook so that
 *		it releases only noisy aggregates of contribution-bounded rows, and
 *		its plan spends the reader's privacy budget when it starts (or is
 *		refused before it runs).
 *
 * The order (doc/aggregate-policies.md, "Differential privacy"):
 *  1. rows are filtered first: the row policies (and RLS) are security
 *	   quals of the entry, at the lowest levels;
 *  2. contribution bounding: a security qual at the level above them,
 *	   meshpg.dp_admit(unit, k), admits at most k rows of each privacy unit
 *	   per execution of the plan (a hash table per execution, kept by the
 *	   ExecutorStart step below: a partitioned product's scans share it);
 *  3. noise: count(*), count(x), sum(x) and avg(x) become meshpg's noisy
 *	   aggregates (two-sided geometric noise, policy/noise.c); avg is a
 *	   noisy sum over a noisy count.  Identical aggregates are computed
 *	   once by the executor, so a value used in the select list and in
 *	   HAVING is one draw, not two;
 *  4. groups: with GROUP BY, a group is released only if its noisy row
 *	   count reaches a threshold set from delta (the set of keys present is
 *	   itself information);
 *  5. budget: the plan carries its spend (MESH_MARK_DP); the ExecutorStart
 *	   step checks the reader's budget for the product over the policy's
 *	   window and records the spend before the first row is read.
 *
 * Spends are kept in shared memory first, outside any transaction: a
 * reader who rolls back, or whose statement fails after rows were sent,
 * has still spent.  The worker writes them to meshpg.cat_privacy_ledger
 * (the history of spends), and the check adds both.
 *
 * What is refused (fail closed): a DP product read other than by a
 * top-level aggregating SELECT over it alone (joins, subqueries over it,
 * CTEs, set operations, window functions, sublinks, grouping sets, row
 * reads), aggregates other than count/sum/avg, DISTINCT/ORDER BY/FILTER
 * inside them, sum/avg of a column without declared bounds.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/tlist.h"
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/regproc.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/governance/aggregate.h"
#include "meshpg/governance/privacy.h"
#include "meshpg/policy/noise.h"

#ifndef HAVE_INT128
#error "differential privacy sums need a 128-bit integer type"
#endif

PG_FUNCTION_INFO_V1(mesh_dp_admit);
PG_FUNCTION_INFO_V1(mesh_dp_count_trans);
PG_FUNCTION_INFO_V1(mesh_dp_count_nn_trans);
PG_FUNCTION_INFO_V1(mesh_dp_sum_int_trans);
PG_FUNCTION_INFO_V1(mesh_dp_sum_int4_trans);
PG_FUNCTION_INFO_V1(mesh_dp_sum_float_trans);
PG_FUNCTION_INFO_V1(mesh_dp_count_final);
PG_FUNCTION_INFO_V1(mesh_dp_sum_int_final);
PG_FUNCTION_INFO_V1(mesh_dp_sum_float_final);
PG_FUNCTION_INFO_V1(mesh_dp_avg);
PG_FUNCTION_INFO_V1(mesh_dp_avg_halfwidth);
PG_FUNCTION_INFO_V1(mesh_dp_interval);
PG_FUNCTION_INFO_V1(mesh_dp_pending);
PG_FUNCTION_INFO_V1(mesh_dp_flush);

/* the confidence level of meshpg.dp_interval */
#define DP_LEVEL 0.95

/* ----------------------------------------------------------------------
 * Measurements: what the rewrite asks the noisy aggregates to compute.
 * The spec is a float8[] constant, the aggregates' first argument.
 * ---------------------------------------------------------------------- */

#define DP_COUNT	1			/* count(*) */
#define DP_COUNT_NN 2			/* count(x): non-null x */
#define DP_SUM		3			/* sum(x), x clamped to [lo, hi] */

#define SPEC_KIND	0
#define SPEC_EPS	1
#define SPEC_K		2
#define SPEC_LO		3
#define SPEC_HI		4
#define SPEC_LEN	5

/* The L1 sensitivity of a measurement: one unit adds at most k rows. */
static double
spec_sensitivity(const double *spec)
{
	if ((int) spec[SPEC_KIND] == DP_SUM)
		return spec[SPEC_K] * Max(fabs(spec[SPEC_LO]), fabs(spec[SPEC_HI]));
	return spec[SPEC_K];
}

/*
 * The grid a real sum is released on: a power of two about 1/1024 of the
 * noise's scale, so that rounding to it is negligible beside the noise and
 * the released value is an exact multiple of it.  Integer sums and counts
 * use the integers (grid 1).
 */
static double
sum_grid(const double *spec, bool integral)
{
	double		scale = spec_sensitivity(spec) / spec[SPEC_EPS];

	if (integral || scale <= 0)
		return 1.0;
	return ldexp(1.0, (int) floor(log2(scale / 1024.0)));
}

/* Sensitivity in grid units: rounding to the grid moves a sum by < 1 unit. */
static double
grid_sensitivity(const double *spec, bool integral, double grid)
{
	double		s = spec_sensitivity(spec);

	if (integral)
		return Max(s, 1.0);
	return ceil(s / grid) + 1.0;
}

/* ----------------------------------------------------------------------
 * Contribution bounding: one admission table per execution of a DP plan.
 * ---------------------------------------------------------------------- */

typedef struct DpUnit
{
	uint64		key;
	uint32		count;
	char		status;
} DpUnit;

#define SH_PREFIX dpunit
#define SH_ELEMENT_TYPE DpUnit
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, key) hash_bytes_uint32((uint32) (key) ^ (uint32) ((key) >> 32))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct DpExecution
{
	struct DpExecution *outer;
	dpunit_hash *units;
	uint32		null_count;		/* rows whose unit is NULL: one unit */
	MemoryContextCallback cb;
} DpExecution;

static DpExecution *dp_current = NULL;

Query	   *mesh_privacy_top_query = NULL;

/* The execution's memory goes away (end, error): unlink its table. */
static void
dp_execution_done(void *arg)
{
	DpExecution *e = arg;
	DpExecution **p = &dp_current;

	while (*p != NULL && *p != e)
		p = &(*p)->outer;
	if (*p == e)
		*p = e->outer;
}

static void
dp_execution_begin(EState *estate)
{
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
	DpExecution *e = palloc0(sizeof(DpExecution));

	e->units = dpunit_create(estate->es_query_cxt, 1024, NULL);
	e->outer = dp_current;
	e->cb.func = dp_execution_done;
	e->cb.arg = e;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &e->cb);
	dp_current = e;
	MemoryContextSwitchTo(old);
}

/*
 * meshpg.dp_admit(unit, k): true for the first k rows of each unit in this
 * execution.  Units are told apart by their binary value (a 64-bit hash
 * for values wider than 8 bytes: two units that collide share one bound,
 * which only admits fewer rows).  Which k rows are kept depends only on the
 * unit's own rows and their order, never on other units' rows, so removing
 * a unit changes no other unit's contribution.
 */
typedef struct DpAdmitType
{
	int16		len;
	bool		byval;
} DpAdmitType;

Datum
mesh_dp_admit(PG_FUNCTION_ARGS)
{
	uint32		k = (uint32) PG_GETARG_INT32(1);
	DpAdmitType *t = fcinfo->flinfo->fn_extra;
	uint64		key;
	bool		found;
	DpUnit	   *u;

	if (unlikely(dp_current == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("meshpg.dp_admit can only run in a query meshpg rewrote for a privacy policy")));
	if (PG_ARGISNULL(0))
		return BoolGetDatum(++dp_current->null_count <= k);
	/* the unit's type, once per call site (this runs for every row) */
	if (unlikely(t == NULL))
	{
		t = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(DpAdmitType));
		get_typlenbyval(get_fn_expr_argtype(fcinfo->flinfo, 0), &t->len, &t->byval);
		fcinfo->flinfo->fn_extra = t;
	}
	if (t->byval)
		key = (uint64) PG_GETARG_DATUM(0);
	else if (t->len == -1)
	{
		struct varlena *d = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));

		key = hash_bytes_extended((unsigned char *) VARDATA_ANY(d),
								  VARSIZE_ANY_EXHDR(d), 0);
	}
	else if (t->len > 0)
		key = hash_bytes_extended((unsigned char *) DatumGetPointer(PG_GETARG_DATUM(0)),
								  t->len, 0);
	else
		key = hash_bytes_extended((unsigned char *) DatumGetCString(PG_GETARG_DATUM(0)),
								  strlen(DatumGetCString(PG_GETARG_DATUM(0))), 0);
	u = dpunit_insert(dp_current->units, key, &found);
	if (!found)
		u->count = 0;
	if (u->count >= k)
		PG_RETURN_BOOL(false);
	u->count++;
	PG_RETURN_BOOL(true);
}

/* ----------------------------------------------------------------------
 * The noisy aggregates.  Their first argument is the spec (a constant);
 * the final functions read it from the Aggref, so an empty input (no row
 * at all) is noised like any other.
 * ---------------------------------------------------------------------- */

typedef struct DpState
{
	int64		count;
	int128		isum;			/* never overflows: |value| <= 1e15 per row */
	double		fsum;
	double		lo;
	double		hi;
	bool		init;
} DpState;

static void
read_spec(ArrayType *a, double *spec)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (n != SPEC_LEN)
		elog(ERROR, "malformed differential privacy spec");
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			elog(ERROR, "malformed differential privacy spec");
		spec[i] = DatumGetFloat8(elems[i]);
	}
	if (!(spec[SPEC_EPS] > 0) || !(spec[SPEC_K] >= 1))
		elog(ERROR, "malformed differential privacy spec");
}

/* The spec of the aggregate call this support function serves. */
static void
call_spec(FunctionCallInfo fcinfo, double *spec)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	TargetEntry *te;

	if (aggref == NULL || aggref->args == NIL)
		elog(ERROR, "differential privacy aggregate called outside an aggregate");
	te = linitial(aggref->args);
	if (!IsA(te->expr, Const) || ((Const *) te->expr)->constisnull)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("meshpg's noisy aggregates take a constant spec")));
	read_spec(DatumGetArrayTypeP(((Const *) te->expr)->constvalue), spec);
}

static DpState *
dp_state(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;
	DpState    *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "differential privacy aggregate called outside an aggregate");
	if (!PG_ARGISNULL(0))
		return (DpState *) PG_GETARG_POINTER(0);
	st = MemoryContextAllocZero(aggcxt, sizeof(DpState));
	return st;
}

Datum
mesh_dp_count_trans(PG_FUNCTION_ARGS)
{
	DpState    *st = dp_state(fcinfo);

	st->count++;
	PG_RETURN_POINTER(st);
}

Datum
mesh_dp_count_nn_trans(PG_FUNCTION_ARGS)
{
	DpState    *st = dp_state(fcinfo);

	if (!PG_ARGISNULL(2))
		st->count++;
	PG_RETURN_POINTER(st);
}

static void
sum_bounds(FunctionCallInfo fcinfo, DpState *st)
{
	double		spec[SPEC_LEN];

	call_spec(fcinfo, spec);
	st->lo = spec[SPEC_LO];
	st->hi = spec[SPEC_HI];
	st->init = true;
}

static inline Datum
sum_int_step(FunctionCallInfo fcinfo, bool int4)
{
	DpState    *st = dp_state(fcinfo);
	int64		v;

	if (!st->init)
	{
		sum_bounds(fcinfo, st);
		/* an integer column is clamped inside the declared bounds */
		st->lo = ceil(st->lo);
		st->hi = floor(st->hi);
	}
	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	v = int4 ? (int64) PG_GETARG_INT32(2) : PG_GETARG_INT64(2);
	if ((double) v < st->lo)
		v = (int64) st->lo;
	else if ((double) v > st->hi)
		v = (int64) st->hi;
	/* no overflow error: its presence would depend on the data, not noisy */
	st->isum += v;
	st->count++;
	PG_RETURN_POINTER(st);
}

Datum
mesh_dp_sum_int_trans(PG_FUNCTION_ARGS)
{
	return sum_int_step(fcinfo, false);
}

/* the same for int2 and int4 columns, without a cast per row */
Datum
mesh_dp_sum_int4_trans(PG_FUNCTION_ARGS)
{
	return sum_int_step(fcinfo, true);
}

Datum
mesh_dp_sum_float_trans(PG_FUNCTION_ARGS)
{
	DpState    *st = dp_state(fcinfo);
	double		v;

	if (!st->init)
		sum_bounds(fcinfo, st);
	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	v = PG_GETARG_FLOAT8(2);
	/* NaN would pass both tests: it is clamped to lo */
	if (!(v >= st->lo))
		v = st->lo;
	else if (v > st->hi)
		v = st->hi;
	st->fsum += v;
	st->count++;
	PG_RETURN_POINTER(st);
}

Datum
mesh_dp_count_final(PG_FUNCTION_ARGS)
{
	double		spec[SPEC_LEN];
	int64		c = PG_ARGISNULL(0) ? 0 : ((DpState *) PG_GETARG_POINTER(0))->count;
	int64		noisy;

	call_spec(fcinfo, spec);
	noisy = c + mesh_dp_geometric(spec[SPEC_EPS], spec_sensitivity(spec));
	/* post-processing: a count is never negative */
	PG_RETURN_INT64(Max(noisy, 0));
}

/* An int128 as numeric, through its decimal digits. */
static Numeric
int128_numeric(int128 v)
{
	char		buf[48];
	char	   *p = buf + sizeof(buf) - 1;
	bool		neg = v < 0;
	uint128		u = neg ? (uint128) (-(v + 1)) + 1 : (uint128) v;

	*p = '\0';
	do
	{
		*--p = '0' + (int) (u % 10);
		u /= 10;
	} while (u != 0);
	if (neg)
		*--p = '-';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(p),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

Datum
mesh_dp_sum_int_final(PG_FUNCTION_ARGS)
{
	double		spec[SPEC_LEN];
	int128		s = PG_ARGISNULL(0) ? 0 : ((DpState *) PG_GETARG_POINTER(0))->isum;

	call_spec(fcinfo, spec);
	s += mesh_dp_geometric(spec[SPEC_EPS], grid_sensitivity(spec, true, 1.0));
	PG_RETURN_NUMERIC(int128_numeric(s));
}

Datum
mesh_dp_sum_float_final(PG_FUNCTION_ARGS)
{
	double		spec[SPEC_LEN];
	double		s = PG_ARGISNULL(0) ? 0 : ((DpState *) PG_GETARG_POINTER(0))->fsum;
	double		grid;
	double		units;

	call_spec(fcinfo, spec);
	grid = sum_grid(spec, false);
	/* the true sum on the grid, then integer noise: the result is on it too */
	units = rint(s / grid);
	units += (double) mesh_dp_geometric(spec[SPEC_EPS], grid_sensitivity(spec, false, grid));
	PG_RETURN_FLOAT8(units * grid);
}

/* meshpg.dp_avg(noisy sum, noisy count, lo, hi): post-processing only. */
Datum
mesh_dp_avg(PG_FUNCTION_ARGS)
{
	double		sum = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														 PG_GETARG_DATUM(0)));
	int64		count = PG_GETARG_INT64(1);
	double		lo = PG_GETARG_FLOAT8(2);
	double		hi = PG_GETARG_FLOAT8(3);
	double		avg = sum / (double) Max(count, 1);

	if (avg < lo)
		avg = lo;
	else if (avg > hi)
		avg = hi;
	PG_RETURN_DATUM(DirectFunctionCall1(float8_numeric, Float8GetDatum(avg)));
}

/*
 * meshpg.dp_avg_halfwidth(noisy sum, noisy count, sum's half-width,
 * count's half-width): a first-order bound, (hw_s + |avg| hw_c) / count.
 */
Datum
mesh_dp_avg_halfwidth(PG_FUNCTION_ARGS)
{
	double		sum = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														 PG_GETARG_DATUM(0)));
	double		count = (double) Max(PG_GETARG_INT64(1), 1);
	double		hws = PG_GETARG_FLOAT8(2);
	double		hwc = PG_GETARG_FLOAT8(3);

	PG_RETURN_FLOAT8((hws + fabs(sum / count) * hwc) / count);
}

/* meshpg.dp_interval(value): replaced by the rewrite; never runs itself. */
Datum
mesh_dp_interval(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("meshpg.dp_interval applies only to an aggregate of a data product whose privacy policy applies to you"),
			 errhint("Write it around count, sum or avg in a query over such a product: meshpg.dp_interval(count(*)).")));
	PG_RETURN_NULL();
}

/* ----------------------------------------------------------------------
 * The rewrite.
 * ---------------------------------------------------------------------- */

typedef struct Measure
{
	int			kind;
	Node	   *arg;			/* count(x), sum(x): x (a copy) */
	AttrNumber	attno;			/* sum: the column */
	double		lo;
	double		hi;
	bool		integral;		/* sum of an integer column */
} Measure;

typedef struct DpRewrite
{
	const MeshPrivacyRule *rule;
	int			rti;
	Oid			relid;
	List	   *measures;		/* of Measure * */
	double		eps_each;
	Oid			nsp;
} DpRewrite;

void
mesh_privacy_refuse(const MeshPrivacyRule *rule, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("data product \"%s\" can only be read through noisy aggregates: %s",
					rule->product_name, why),
			 errdetail("The differential privacy policy \"%s\" applies to you.", rule->policy_name),
			 errhint("%s", hint ? hint :
					 "Query it alone, at the top level: SELECT keys, count(*), sum(col), avg(col) FROM product [WHERE ...] [GROUP BY keys].")));
}

static Oid
dp_func(const char *name, int nargs, const Oid *argtypes)
{
	List	   *qname = list_make2(makeString("meshpg"), makeString(pstrdup(name)));

	return LookupFuncName(qname, nargs, argtypes, false);
}

/* The column a sum or avg reads: a Var of the entry, under casts. */
static Var *
bounded_column(Node *arg, int rti)
{
	while (arg != NULL)
	{
		if (IsA(arg, RelabelType))
			arg = (Node *) ((RelabelType *) arg)->arg;
		else if (IsA(arg, Var))
		{
			Var		   *v = (Var *) arg;

			return (v->varno == rti && v->varlevelsup == 0 && v->varattno > 0) ? v : NULL;
		}
		else
			return NULL;
	}
	return NULL;
}

static bool
is_integral_sum(Oid fn)
{
	return fn == F_SUM_INT2 || fn == F_SUM_INT4 || fn == F_SUM_INT8 ||
		fn == F_AVG_INT2 || fn == F_AVG_INT4 || fn == F_AVG_INT8;
}

static bool
is_sum(Oid fn)
{
	return fn == F_SUM_INT2 || fn == F_SUM_INT4 || fn == F_SUM_INT8 ||
		fn == F_SUM_FLOAT4 || fn == F_SUM_FLOAT8 || fn == F_SUM_NUMERIC;
}

static bool
is_avg(Oid fn)
{
	return fn == F_AVG_INT2 || fn == F_AVG_INT4 || fn == F_AVG_INT8 ||
		fn == F_AVG_FLOAT4 || fn == F_AVG_FLOAT8 || fn == F_AVG_NUMERIC;
}

static Measure *
find_or_add_measure(DpRewrite *rw, int kind, Node *arg, AttrNumber attno,
					bool integral, bool add)
{
	ListCell   *lc;
	Measure    *m;

	/* count(x) of a NOT NULL column is count(*): one measurement, not two */
	if (kind == DP_COUNT_NN)
	{
		Var		   *v = bounded_column(arg, rw->rti);
		HeapTuple	tup;

		if (v != NULL &&
			HeapTupleIsValid(tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(rw->relid),
												   Int16GetDatum(v->varattno))))
		{
			bool		notnull = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;

			ReleaseSysCache(tup);
			if (notnull)
			{
				kind = DP_COUNT;
				arg = NULL;
			}
		}
	}

	foreach(lc, rw->measures)
	{
		m = lfirst(lc);
		if (m->kind != kind)
			continue;
		if (kind == DP_SUM ? (m->attno == attno && m->integral == integral)
			: equal(m->arg, arg))
			return m;
	}
	if (!add)
		elog(ERROR, "differential privacy measurement not collected");
	m = palloc0(sizeof(Measure));
	m->kind = kind;
	m->arg = copyObject(arg);
	m->attno = attno;
	m->integral = integral;
	if (kind == DP_SUM)
	{
		bool		found = false;

		for (int i = 0; i < rw->rule->nbounds; i++)
			if (rw->rule->bound_attnos[i] == attno)
			{
				m->lo = rw->rule->bound_lo[i];
				m->hi = rw->rule->bound_hi[i];
				found = true;
			}
		if (!found)
			mesh_privacy_refuse(rw->rule,
								psprintf("column \"%s\" has no clamping bounds in the policy",
										 get_attname(rw->relid, attno, false)),
								"Ask the product's owner to declare bounds for the column in the privacy policy, or count instead.");
	}
	rw->measures = lappend(rw->measures, m);
	return m;
}

static Oid
dp_interval_oid(void)
{
	Oid			t = ANYELEMENTOID;

	return dp_func("dp_interval", 1, &t);
}

/* First pass: the measurements the query needs; refuses what it can't bound. */
static bool
collect_walker(Node *node, DpRewrite *rw)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		Aggref	   *a = (Aggref *) node;
		Oid			fn = a->aggfnoid;

		if (a->agglevelsup != 0 || a->aggdistinct != NIL || a->aggorder != NIL ||
			a->aggfilter != NULL || a->aggkind != AGGKIND_NORMAL)
			mesh_privacy_refuse(rw->rule, "DISTINCT, ORDER BY or FILTER in an aggregate",
								NULL);
		foreach_ptr(TargetEntry, te, a->args)
			if (contain_leaked_vars((Node *) te->expr))
			mesh_privacy_refuse(rw->rule, "an aggregate's argument applies a function that is not leakproof to its values",
								"Aggregate plain columns; an error on one row would reveal that row.");
		if (fn == F_COUNT_)
			find_or_add_measure(rw, DP_COUNT, NULL, 0, false, true);
		else if (fn == F_COUNT_ANY)
			find_or_add_measure(rw, DP_COUNT_NN,
								(Node *) ((TargetEntry *) linitial(a->args))->expr,
								0, false, true);
		else if (is_sum(fn) || is_avg(fn))
		{
			Node	   *arg = (Node *) ((TargetEntry *) linitial(a->args))->expr;
			Var		   *col = bounded_column(arg, rw->rti);

			if (col == NULL)
				mesh_privacy_refuse(rw->rule,
									"sum and avg take a column of the product itself (not an expression, nor a masked column)",
									NULL);
			find_or_add_measure(rw, DP_SUM, (Node *) col, col->varattno,
								is_integral_sum(fn), true);
			if (is_avg(fn))
				find_or_add_measure(rw, DP_COUNT_NN, arg, 0, false, true);
		}
		else
			mesh_privacy_refuse(rw->rule,
								psprintf("aggregate %s is not allowed", format_procedure(fn)),
								"Use count, sum or avg: other aggregates (min, max, ...) are not differentially private.");
		/* an aggregate's argument holds no other aggregate (the parser says so) */
		return false;
	}
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == dp_interval_oid() &&
		!IsA(linitial(((FuncExpr *) node)->args), Aggref))
		mesh_privacy_refuse(rw->rule, "meshpg.dp_interval takes one aggregate",
							"Write meshpg.dp_interval(count(*)), meshpg.dp_interval(sum(col)) or meshpg.dp_interval(avg(col)).");
	return expression_tree_walker(node, collect_walker, rw);
}

static Const *
spec_const(DpRewrite *rw, Measure *m)
{
	Datum		d[SPEC_LEN];
	ArrayType  *a;

	d[SPEC_KIND] = Float8GetDatum((double) m->kind);
	d[SPEC_EPS] = Float8GetDatum(rw->eps_each);
	d[SPEC_K] = Float8GetDatum((double) rw->rule->max_contributions);
	d[SPEC_LO] = Float8GetDatum(m->lo);
	d[SPEC_HI] = Float8GetDatum(m->hi);
	a = construct_array(d, SPEC_LEN, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	return makeConst(FLOAT8ARRAYOID, -1, InvalidOid, -1, PointerGetDatum(a), false, false);
}

static void
measure_spec(DpRewrite *rw, Measure *m, double *spec)
{
	spec[SPEC_KIND] = m->kind;
	spec[SPEC_EPS] = rw->eps_each;
	spec[SPEC_K] = rw->rule->max_contributions;
	spec[SPEC_LO] = m->lo;
	spec[SPEC_HI] = m->hi;
}

static Node *
coerce_to(Node *expr, Oid target)
{
	Node	   *r;

	if (exprType(expr) == target)
		return expr;
	r = coerce_to_target_type(NULL, expr, exprType(expr), target, -1,
							  COERCION_EXPLICIT, COERCE_IMPLICIT_CAST, -1);
	if (r == NULL)
		elog(ERROR, "cannot coerce a noisy aggregate to type %u", target);
	return r;
}

/*
 * The noisy aggregate of a measurement: int8 for counts, numeric for sums
 * of integers, float8 for other sums.
 */
static Node *
measure_aggref(DpRewrite *rw, Measure *m)
{
	Aggref	   *a = makeNode(Aggref);
	Oid			types[2] = {FLOAT8ARRAYOID, ANYOID};
	Node	   *arg = NULL;

	switch (m->kind)
	{
		case DP_COUNT:
			a->aggfnoid = dp_func("dp_count", 1, types);
			a->aggtype = INT8OID;
			break;
		case DP_COUNT_NN:
			a->aggfnoid = dp_func("dp_count", 2, types);
			a->aggtype = INT8OID;
			arg = copyObject(m->arg);
			break;
		case DP_SUM:
			types[1] = !m->integral ? FLOAT8OID :
				exprType(m->arg) == INT8OID ? INT8OID : INT4OID;
			a->aggfnoid = dp_func(m->integral ? "dp_sum_int" : "dp_sum_float", 2, types);
			a->aggtype = m->integral ? NUMERICOID : FLOAT8OID;
			arg = coerce_to(copyObject(m->arg), types[1]);
			break;
	}
	a->args = list_make1(makeTargetEntry((Expr *) spec_const(rw, m), 1, NULL, false));
	a->aggargtypes = list_make1_oid(FLOAT8ARRAYOID);
	if (arg != NULL)
	{
		a->args = lappend(a->args, makeTargetEntry((Expr *) arg, 2, NULL, false));
		a->aggargtypes = lappend_oid(a->aggargtypes, exprType(arg));
	}
	a->aggkind = AGGKIND_NORMAL;
	a->aggsplit = AGGSPLIT_SIMPLE;
	a->aggno = a->aggtransno = -1;
	a->location = -1;
	return (Node *) a;
}

static Node *
make_call(const char *name, Oid rettype, List *args)
{
	Oid			types[FUNC_MAX_ARGS];
	int			n = 0;
	ListCell   *lc;

	foreach(lc, args)
		types[n++] = exprType(lfirst(lc));
	return (Node *) makeFuncExpr(dp_func(name, n, types), rettype, args,
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

static Node *
float_const(double v)
{
	return (Node *) makeConst(FLOAT8OID, -1, InvalidOid, 8, Float8GetDatum(v), false,
							  FLOAT8PASSBYVAL);
}

/* The 95% half-width of a measurement's noise, in the value's units. */
static double
measure_halfwidth(DpRewrite *rw, Measure *m)
{
	double		spec[SPEC_LEN];
	bool		integral = m->kind != DP_SUM || m->integral;
	double		grid;

	measure_spec(rw, m, spec);
	grid = sum_grid(spec, integral);
	return grid * (double) mesh_dp_geometric_halfwidth(spec[SPEC_EPS],
													   grid_sensitivity(spec, integral, grid),
													   DP_LEVEL);
}

static Node *
noise_mutator(Node *node, DpRewrite *rw)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Aggref))
	{
		Aggref	   *a = (Aggref *) node;
		Oid			fn = a->aggfnoid;
		Node	   *arg = a->args ? (Node *) ((TargetEntry *) linitial(a->args))->expr : NULL;

		if (fn == F_COUNT_)
			return measure_aggref(rw, find_or_add_measure(rw, DP_COUNT, NULL, 0, false, false));
		if (fn == F_COUNT_ANY)
			return measure_aggref(rw, find_or_add_measure(rw, DP_COUNT_NN, arg, 0, false, false));
		if (is_sum(fn) || is_avg(fn))
		{
			Var		   *col = bounded_column(arg, rw->rti);
			Measure    *sm = find_or_add_measure(rw, DP_SUM, (Node *) col, col->varattno,
												 is_integral_sum(fn), false);
			Node	   *sum = measure_aggref(rw, sm);

			if (is_sum(fn))
				return coerce_to(sum, a->aggtype);
			return coerce_to(make_call("dp_avg", NUMERICOID,
									   list_make4(coerce_to(sum, NUMERICOID),
												  measure_aggref(rw, find_or_add_measure(rw, DP_COUNT_NN, arg, 0, false, false)),
												  float_const(sm->lo), float_const(sm->hi))),
							 a->aggtype);
		}
		elog(ERROR, "aggregate not collected for differential privacy");
	}
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == dp_interval_oid())
	{
		Aggref	   *a = linitial(((FuncExpr *) node)->args);
		Oid			fn = a->aggfnoid;
		Node	   *arg = a->args ? (Node *) ((TargetEntry *) linitial(a->args))->expr : NULL;
		Node	   *result;

		if (fn == F_COUNT_)
			result = float_const(measure_halfwidth(rw, find_or_add_measure(rw, DP_COUNT, NULL, 0, false, false)));
		else if (fn == F_COUNT_ANY)
			result = float_const(measure_halfwidth(rw, find_or_add_measure(rw, DP_COUNT_NN, arg, 0, false, false)));
		else
		{
			Var		   *col = bounded_column(arg, rw->rti);
			Measure    *sm = find_or_add_measure(rw, DP_SUM, (Node *) col, col->varattno,
												 is_integral_sum(fn), false);

			if (is_sum(fn))
				result = float_const(measure_halfwidth(rw, sm));
			else
			{
				Measure    *cm = find_or_add_measure(rw, DP_COUNT_NN, arg, 0, false, false);

				result = make_call("dp_avg_halfwidth", FLOAT8OID,
								   list_make4(coerce_to(measure_aggref(rw, sm), NUMERICOID),
											  measure_aggref(rw, cm),
											  float_const(measure_halfwidth(rw, sm)),
											  float_const(measure_halfwidth(rw, cm))));
			}
		}
		return coerce_to(result, ((FuncExpr *) node)->funcresulttype);
	}
	return expression_tree_mutator(node, noise_mutator, rw);
}

/* node with each aggregate replaced by a NULL of its type */
static Node *
aggregates_as_nulls(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Aggref))
		return (Node *) makeNullConst(((Aggref *) node)->aggtype, -1, InvalidOid);
	return expression_tree_mutator(node, aggregates_as_nulls, context);
}

static void
mark_word(List **marks, int id, uint32 value)
{
	PlanInvalItem *item = makeNode(PlanInvalItem);

	item->cacheId = id;
	item->hashValue = value;
	*marks = lappend(*marks, item);
}

static void
mark_int64(List **marks, int64 v)
{
	mark_word(marks, MESH_MARK_DP_WORD, (uint32) ((uint64) v >> 32));
	mark_word(marks, MESH_MARK_DP_WORD, (uint32) (uint64) v);
}

static void
mark_double(List **marks, double d)
{
	uint64		bits;

	memcpy(&bits, &d, sizeof(bits));
	mark_int64(marks, (int64) bits);
}

List *
mesh_privacy_rewrite_entry(Query *q, int rti, Oid relid, const MeshPrivacyRule *rule, bool top)
{
	DpRewrite	rw = {rule, rti, relid, NIL, 0, InvalidOid};
	RangeTblEntry *rte = rt_fetch(rti, q->rtable);
	ListCell   *lc;
	List	   *marks = NIL;
	bool		grouped = q->groupClause != NIL;
	Oid			coltype;
	int32		typmod;
	Oid			coll;

	if (!top || q->commandType != CMD_SELECT || q->utilityStmt != NULL)
		mesh_privacy_refuse(rule, "it is read inside another query or statement", NULL);
	if (list_length(q->rtable) != 1 || q->jointree == NULL ||
		list_length(q->jointree->fromlist) != 1 ||
		!IsA(linitial(q->jointree->fromlist), RangeTblRef) ||
		((RangeTblRef *) linitial(q->jointree->fromlist))->rtindex != rti)
		mesh_privacy_refuse(rule, "it is joined or read with other relations",
							"Joins can multiply one unit's rows beyond its bound; query the product alone.");
	if (rte->rtekind != RTE_RELATION)
		mesh_privacy_refuse(rule, "it is a view", "Query the product's table.");
	if (q->cteList != NIL || q->setOperations != NULL || q->hasWindowFuncs ||
		q->hasTargetSRFs || q->hasSubLinks || q->groupingSets != NIL ||
		q->rowMarks != NIL || q->hasRecursive || q->hasModifyingCTE)
		mesh_privacy_refuse(rule,
							"CTEs, set operations, window functions, set-returning functions, subqueries, grouping sets and FOR UPDATE are not allowed with it",
							NULL);
	if (!q->hasAggs && !grouped)
		mesh_privacy_refuse(rule, "rows may not be returned", NULL);
	if (grouped && !(rule->delta > 0))
		mesh_privacy_refuse(rule, "GROUP BY needs a delta in the policy",
							"The set of groups present is itself information; ask the product's owner for a delta, or query without GROUP BY.");

	/*
	 * The error channel: a condition, a group key or a counted expression
	 * is evaluated on every row, before any noise; one that can fail on a
	 * value (1 / (amount - 42), a cast of text) answers "is there such a
	 * row" exactly, through the error alone.  Only leakproof functions and
	 * operators may take the product's values there.
	 */
	if (contain_leaked_vars(q->jointree->quals))
		mesh_privacy_refuse(rule, "a condition applies a function or operator that is not leakproof to its values",
							"Compare columns with constants of the same type (=, <, >, IN, BETWEEN); an error on one row would reveal that row.");
	/*
	 * HAVING: a condition on the group keys alone is moved below the
	 * aggregation by the planner, onto every row; its aggregates are noisy
	 * values (post-processing), so only what is outside them counts.
	 */
	if (q->havingQual != NULL &&
		contain_leaked_vars(aggregates_as_nulls(copyObject(q->havingQual), NULL)))
		mesh_privacy_refuse(rule, "a HAVING condition applies a function or operator that is not leakproof to its values",
							"Compare group keys with constants of the same type; an error on one row would reveal that row.");
	foreach(lc, q->groupClause)
		if (contain_leaked_vars(get_sortgroupclause_expr(lfirst(lc), q->targetList)))
			mesh_privacy_refuse(rule, "a group key applies a function that is not leakproof to its values",
								"Group by plain columns; an error on one row would reveal that row.");

	/* the measurements, then the share of epsilon each one gets */
	foreach(lc, q->targetList)
		collect_walker((Node *) ((TargetEntry *) lfirst(lc))->expr, &rw);
	collect_walker(q->havingQual, &rw);
	if (grouped)
		find_or_add_measure(&rw, DP_COUNT, NULL, 0, false, true);
	if (rw.measures == NIL)
		mesh_privacy_refuse(rule, "it releases no aggregate", NULL);
	rw.eps_each = rule->epsilon / list_length(rw.measures);

	foreach(lc, q->targetList)
	{
		TargetEntry *te = lfirst(lc);

		te->expr = (Expr *) noise_mutator((Node *) te->expr, &rw);
	}
	q->havingQual = noise_mutator(q->havingQual, &rw);

	/*
	 * Groups: released only if their noisy row count reaches tau.  A unit
	 * touches at most k groups, each of true count <= k without it: the
	 * chance that any of them shows is at most k * P(k + X >= tau) <= delta.
	 */
	if (grouped)
	{
		Measure    *cm = find_or_add_measure(&rw, DP_COUNT, NULL, 0, false, false);
		int64		k = rule->max_contributions;
		int64		tau = k + mesh_dp_geometric_tail(rw.eps_each, (double) k,
													 rule->delta / (double) k);
		Node	   *keep = (Node *) makeFuncExpr(F_INT8GE, BOOLOID,
												 list_make2(measure_aggref(&rw, cm),
															makeConst(INT8OID, -1, InvalidOid, 8,
																	  Int64GetDatum(tau), false,
																	  FLOAT8PASSBYVAL)),
												 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

		q->havingQual = q->havingQual == NULL ? keep
			: (Node *) make_andclause(list_make2(q->havingQual, keep));
	}
	q->hasAggs = true;

	/* contribution bounding: above the row filters, so after them */
	get_atttypetypmodcoll(relid, rule->unit, &coltype, &typmod, &coll);
	{
		Oid			types[2] = {ANYOID, INT4OID};
		Node	   *admit = (Node *) makeFuncExpr(dp_func("dp_admit", 2, types), BOOLOID,
												  list_make2(makeVar(rti, rule->unit, coltype, typmod, coll, 0),
															 makeConst(INT4OID, -1, InvalidOid, 4,
																	   Int32GetDatum(rule->max_contributions),
																	   false, true)),
												  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

		rte->securityQuals = lappend(rte->securityQuals, admit);
	}

	/* the spend, for the ExecutorStart step */
	mark_word(&marks, MESH_MARK_DP, 0);
	mark_int64(&marks, rule->product_id);
	mark_int64(&marks, rule->policy_id);
	mark_double(&marks, rule->epsilon);
	mark_double(&marks, grouped ? rule->delta : 0.0);
	mark_double(&marks, rule->budget_epsilon);
	mark_double(&marks, rule->budget_delta);
	mark_int64(&marks, rule->window_usecs);
	return marks;
}

/* ----------------------------------------------------------------------
 * The budget.
 *
 * A spend goes to shared memory when the plan starts, outside the
 * transaction; the worker moves it to meshpg.cat_privacy_ledger.  The check
 * adds the ledger (read with the latest snapshot, whatever the isolation
 * level) and the slots.  The worker marks the slots it writes and clears
 * them once its transaction has committed, bumping the generation: a check
 * that read the ledger before that commit sees the generation change and
 * reads it again, so a spend is never missed (it may be counted twice for
 * an instant, which only refuses sooner).
 * ---------------------------------------------------------------------- */

#define DP_SLOTS 4096

typedef struct DpSpendSlot
{
	bool		used;
	bool		flushing;
	Oid			db;
	Oid			reader;
	int64		product_id;
	int64		policy_id;
	TimestampTz at;
	double		epsilon;
	double		delta;
} DpSpendSlot;

typedef struct DpShared
{
	LWLock	   *lock;
	uint64		generation;
	DpSpendSlot slots[DP_SLOTS];
} DpShared;

static DpShared *dp_shared = NULL;

void
mesh_privacy_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(DpShared)));
	RequestNamedLWLockTranche("meshpg_privacy", 1);
}

void
mesh_privacy_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dp_shared = ShmemInitStruct("meshpg privacy budget", sizeof(DpShared), &found);
	if (!found)
	{
		memset(dp_shared, 0, sizeof(DpShared));
		dp_shared->lock = &(GetNamedLWLockTranche("meshpg_privacy"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

typedef struct DpSpendReq
{
	int64		product_id;
	int64		policy_id;
	double		epsilon;
	double		delta;
	double		budget_epsilon;
	double		budget_delta;
	int64		window_usecs;
} DpSpendReq;

typedef struct DpPast
{
	TimestampTz at;
	double		epsilon;
	double		delta;
} DpPast;

static int
past_cmp(const void *a, const void *b)
{
	TimestampTz x = ((const DpPast *) a)->at;
	TimestampTz y = ((const DpPast *) b)->at;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The ledger's spends of reader on product since `since`. */
static List *
ledger_spends(Oid reader, int64 product_id, TimestampTz since)
{
	MeshSpiState spi;
	SPIPlanPtr	plan;
	Oid			types[3] = {NAMEOID, INT8OID, TIMESTAMPTZOID};
	NameData	rolname;
	Datum		values[3] = {NameGetDatum(&rolname), Int64GetDatum(product_id),
	TimestampTzGetDatum(since)};
	List	   *result = NIL;
	int			rc;

	namestrcpy(&rolname, GetUserNameFromId(reader, false));
	mesh_spi_begin(&spi);
	plan = SPI_prepare("SELECT spent_at, epsilon, delta FROM meshpg.cat_privacy_ledger "
					   "WHERE reader = $1 AND product_id = $2 AND spent_at > $3",
					   3, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the privacy ledger query");
	rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "privacy ledger query failed: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		DpPast	   *p = palloc(sizeof(DpPast));

		p->at = DatumGetTimestampTz(SPI_getbinval(t, d, 1, &isnull));
		p->epsilon = DatumGetFloat8(SPI_getbinval(t, d, 2, &isnull));
		p->delta = DatumGetFloat8(SPI_getbinval(t, d, 3, &isnull));
		result = lappend(result, p);
	}
	mesh_spi_end(&spi);
	return result;
}

static const char *
product_name(int64 id)
{
	Oid			type = INT8OID;
	Datum		v = Int64GetDatum(id);
	char	   *name = mesh_spi_first_value("SELECT d.name || '.' || p.name FROM meshpg.cat_product p "
											"JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = $1",
											1, &type, &v);

	return name ? name : "?";
}

static void
spend(Oid reader, const DpSpendReq *r)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz since = now - r->window_usecs;

	if (dp_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("meshpg's privacy budget needs meshpg in shared_preload_libraries")));
	for (;;)
	{
		uint64		generation;
		List	   *past;
		double		eps = 0;
		double		delta = 0;
		int			free_slot = -1;
		ListCell   *lc;

		LWLockAcquire(dp_shared->lock, LW_SHARED);
		generation = dp_shared->generation;
		LWLockRelease(dp_shared->lock);

		past = ledger_spends(reader, r->product_id, since);

		LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
		if (dp_shared->generation != generation)
		{
			/* the worker moved slots to the ledger meanwhile: read it again */
			LWLockRelease(dp_shared->lock);
			continue;
		}
		for (int i = 0; i < DP_SLOTS; i++)
		{
			DpSpendSlot *s = &dp_shared->slots[i];

			if (!s->used)
			{
				if (free_slot < 0)
					free_slot = i;
				continue;
			}
			if (s->db == MyDatabaseId && s->reader == reader &&
				s->product_id == r->product_id && s->at > since)
			{
				DpPast	   *p = palloc(sizeof(DpPast));

				p->at = s->at;
				p->epsilon = s->epsilon;
				p->delta = s->delta;
				past = lappend(past, p);
			}
		}
		foreach(lc, past)
		{
			eps += ((DpPast *) lfirst(lc))->epsilon;
			delta += ((DpPast *) lfirst(lc))->delta;
		}
		if (eps + r->epsilon > r->budget_epsilon * (1 + 1e-12) ||
			(r->budget_delta > 0 && delta + r->delta > r->budget_delta * (1 + 1e-12)))
		{
			/* when enough of the window's spends have aged out */
			int			n = list_length(past);
			DpPast	   *arr = palloc(sizeof(DpPast) * Max(n, 1));
			TimestampTz refill = now;
			double		e = eps;
			double		d = delta;
			int			i = 0;

			LWLockRelease(dp_shared->lock);
			foreach(lc, past)
				arr[i++] = *(DpPast *) lfirst(lc);
			qsort(arr, n, sizeof(DpPast), past_cmp);
			for (i = 0; i < n &&
				 (e + r->epsilon > r->budget_epsilon * (1 + 1e-12) ||
				  (r->budget_delta > 0 && d + r->delta > r->budget_delta * (1 + 1e-12))); i++)
			{
				e -= arr[i].epsilon;
				d -= arr[i].delta;
				refill = arr[i].at + r->window_usecs;
			}
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("privacy budget exhausted for data product \"%s\": this query needs epsilon %g, %g of %g is left",
							product_name(r->product_id), r->epsilon, Max(r->budget_epsilon - eps, 0), r->budget_epsilon),
					 r->budget_delta > 0 ?
					 errdetail("Delta: this query needs %g, %g of %g is left.",
							   r->delta, Max(r->budget_delta - delta, 0), r->budget_delta) : 0,
					 (i == n && n == 0) ?
					 errhint("The query alone needs more than the whole budget; ask the product's owner for a larger budget.") :
					 errhint("Enough budget is back at %s (spends age out of the window); fewer aggregates do not lower a query's cost.",
							 timestamptz_to_str(refill))));
		}
		if (free_slot < 0)
		{
			LWLockRelease(dp_shared->lock);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many privacy budget spends waiting to be written to the ledger"),
					 errhint("Check that meshpg's background worker runs for this database (meshpg.databases).")));
		}
		{
			DpSpendSlot *s = &dp_shared->slots[free_slot];

			s->used = true;
			s->flushing = false;
			s->db = MyDatabaseId;
			s->reader = reader;
			s->product_id = r->product_id;
			s->policy_id = r->policy_id;
			s->at = now;
			s->epsilon = r->epsilon;
			s->delta = r->delta;
		}
		LWLockRelease(dp_shared->lock);
		return;
	}
}

static void flush_if_crowded(void);

static uint64
read_word_pair(ListCell **lc, List *items)
{
	uint64		hi;
	uint64		lo;

	*lc = lnext(items, *lc);
	hi = ((PlanInvalItem *) lfirst(*lc))->hashValue;
	*lc = lnext(items, *lc);
	lo = ((PlanInvalItem *) lfirst(*lc))->hashValue;
	return (hi << 32) | lo;
}

static double
word_double(uint64 bits)
{
	double		d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

void
mesh_privacy_executor_start(QueryDesc *queryDesc, int eflags, MeshHookStep next)
{
	List	   *items = queryDesc->plannedstmt->invalItems;
	ListCell   *lc;
	bool		dp = false;

	foreach(lc, items)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_DP)
		{
			DpSpendReq	r;

			r.product_id = (int64) read_word_pair(&lc, items);
			r.policy_id = (int64) read_word_pair(&lc, items);
			r.epsilon = word_double(read_word_pair(&lc, items));
			r.delta = word_double(read_word_pair(&lc, items));
			r.budget_epsilon = word_double(read_word_pair(&lc, items));
			r.budget_delta = word_double(read_word_pair(&lc, items));
			r.window_usecs = (int64) read_word_pair(&lc, items);
			/* EXPLAIN without ANALYZE runs nothing and releases nothing */
			if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0)
			{
				spend(GetUserId(), &r);
				flush_if_crowded();
			}
			dp = true;
		}
	}
	mesh_next_executor_start(queryDesc, eflags, next);
	if (dp)
		dp_execution_begin(queryDesc->estate);
}

/* ----------------------------------------------------------------------
 * The worker's task: spends to the ledger.
 * ---------------------------------------------------------------------- */

/*
 * The slots this backend is writing, with the subtransaction that wrote
 * each: cleared when the transaction commits, handed back to the next
 * writer when it (or that subtransaction) aborts.
 */
static List *flushing_slots = NIL;	/* slot numbers, in TopMemoryContext */
static List *flushing_subids = NIL; /* SubTransactionId of each */
static bool xact_callback_registered = false;

static void
unmark_slots(SubTransactionId only)
{
	List	   *keep_slots = NIL;
	List	   *keep_subids = NIL;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < list_length(flushing_slots); i++)
	{
		SubTransactionId subid = (SubTransactionId) list_nth_int(flushing_subids, i);

		if (only == InvalidSubTransactionId || subid == only)
			dp_shared->slots[list_nth_int(flushing_slots, i)].flushing = false;
		else
		{
			keep_slots = lappend_int(keep_slots, list_nth_int(flushing_slots, i));
			keep_subids = lappend_int(keep_subids, (int) subid);
		}
	}
	LWLockRelease(dp_shared->lock);
	list_free(flushing_slots);
	list_free(flushing_subids);
	flushing_slots = keep_slots;
	flushing_subids = keep_subids;
	MemoryContextSwitchTo(old);
}

static void
flush_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (flushing_slots == NIL)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
		foreach(lc, flushing_slots)
		{
			dp_shared->slots[lfirst_int(lc)].used = false;
			dp_shared->slots[lfirst_int(lc)].flushing = false;
		}
		dp_shared->generation++;
		LWLockRelease(dp_shared->lock);
		list_free(flushing_slots);
		list_free(flushing_subids);
		flushing_slots = flushing_subids = NIL;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
	{
		/* prepared: written again later (counted twice meanwhile, never less) */
		unmark_slots(InvalidSubTransactionId);
	}
}

static void
flush_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (flushing_slots == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		unmark_slots(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		ListCell   *lc;

		foreach(lc, flushing_subids)
			if ((SubTransactionId) lfirst_int(lc) == mySubid)
			lfirst_int(lc) = (int) parentSubid;
	}
}

/*
 * Writes this database's pending spends to the ledger in the current
 * transaction (as the catalog owner); the slots are freed when it commits.
 */
static void
flush_pending(void)
{
	DpSpendSlot *copy;
	int			n = 0;
	MeshSpiState spi;
	MemoryContext old;
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (dp_shared == NULL || mesh_catalog() == NULL ||
		!OidIsValid(get_relname_relid("cat_privacy_ledger", mesh_catalog()->nsp)))
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(flush_xact_callback, NULL);
		RegisterSubXactCallback(flush_subxact_callback, NULL);
		xact_callback_registered = true;
	}
	copy = palloc(sizeof(DpSpendSlot) * DP_SLOTS);
	old = MemoryContextSwitchTo(TopMemoryContext);
	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < DP_SLOTS; i++)
	{
		DpSpendSlot *s = &dp_shared->slots[i];

		if (s->used && !s->flushing && s->db == MyDatabaseId)
		{
			s->flushing = true;
			copy[n++] = *s;
			flushing_slots = lappend_int(flushing_slots, i);
			flushing_subids = lappend_int(flushing_subids, (int) subid);
		}
	}
	LWLockRelease(dp_shared->lock);
	MemoryContextSwitchTo(old);
	if (n == 0)
		return;

	mesh_spi_begin(&spi);
	for (int i = 0; i < n; i++)
	{
		Oid			types[6] = {NAMEOID, INT8OID, INT8OID, TIMESTAMPTZOID, FLOAT8OID, FLOAT8OID};
		NameData	rolname;
		Datum		values[6] = {NameGetDatum(&rolname),
			Int64GetDatum(copy[i].product_id), Int64GetDatum(copy[i].policy_id),
			TimestampTzGetDatum(copy[i].at), Float8GetDatum(copy[i].epsilon),
		Float8GetDatum(copy[i].delta)};

		/* a role dropped since: its spends are kept under its old oid */
		{
			char	   *rn = GetUserNameFromId(copy[i].reader, true);

			namestrcpy(&rolname, rn ? rn : psprintf("%u", copy[i].reader));
		}
		/* a product dropped since has no budget left to keep */
		mesh_spi_exec("INSERT INTO meshpg.cat_privacy_ledger "
					  "(reader, product_id, policy_id, spent_at, epsilon, delta) "
					  "SELECT $1, $2, $3, $4, $5, $6 "
					  "WHERE EXISTS (SELECT 1 FROM meshpg.cat_product WHERE id = $2)",
					  6, types, values, NULL);
	}
	mesh_spi_end(&spi);
}

bool
mesh_privacy_flush_task(void)
{
	flush_pending();
	return false;
}

/*
 * Without the worker (meshpg.scheduler off, or this database not in
 * meshpg.databases), a reader's own transaction writes the spends once
 * half the slots are taken, so that the budget never stops for want of
 * room.  Not in a read-only transaction or on a standby: there the slots
 * wait, and when they are full, queries are refused.
 */
static void
flush_if_crowded(void)
{
	int			pending = 0;

	if (XactReadOnly || RecoveryInProgress())
		return;
	LWLockAcquire(dp_shared->lock, LW_SHARED);
	for (int i = 0; i < DP_SLOTS; i++)
		pending += dp_shared->slots[i].used && !dp_shared->slots[i].flushing;
	LWLockRelease(dp_shared->lock);
	if (pending >= DP_SLOTS / 2)
		flush_pending();
}

/*
 * meshpg._privacy_pending(): the spends of this database not yet in the
 * ledger (the view meshpg.privacy_spends adds them to it).
 */
Datum
mesh_dp_pending(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DpSpendSlot *copy = palloc(sizeof(DpSpendSlot) * DP_SLOTS);
	int			n = 0;
	bool		admin = mesh_is_admin(GetUserId());

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (dp_shared == NULL)
		return (Datum) 0;
	LWLockAcquire(dp_shared->lock, LW_SHARED);
	for (int i = 0; i < DP_SLOTS; i++)
		if (dp_shared->slots[i].used && dp_shared->slots[i].db == MyDatabaseId)
			copy[n++] = dp_shared->slots[i];
	LWLockRelease(dp_shared->lock);
	for (int i = 0; i < n; i++)
	{
		Datum		v[6];
		bool		nulls[6] = {false};

		/* the reader's own, its products' for a domain, all for the governance team */
		if (!admin && !has_privs_of_role(GetUserId(), copy[i].reader))
		{
			Oid			type = INT8OID;
			Datum		id = Int64GetDatum(copy[i].product_id);
			char	   *owner = mesh_spi_first_value("SELECT d.owner::oid FROM meshpg.cat_product p "
													 "JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = $1",
													 1, &type, &id);

			if (owner == NULL ||
				!has_privs_of_role(GetUserId(), (Oid) strtoul(owner, NULL, 10)))
				continue;
		}

		v[0] = ObjectIdGetDatum(copy[i].reader);
		v[1] = Int64GetDatum(copy[i].product_id);
		v[2] = Int64GetDatum(copy[i].policy_id);
		v[3] = TimestampTzGetDatum(copy[i].at);
		v[4] = Float8GetDatum(copy[i].epsilon);
		v[5] = Float8GetDatum(copy[i].delta);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* ----------------------------------------------------------------------
 * The policy's options (cat_policy.mask_args of a 'privacy' policy).
 * ---------------------------------------------------------------------- */

static bool
option(Jsonb *options, const char *key, JsonbValue *v)
{
	JsonbValue *found;

	if (options == NULL)
		return false;
	found = getKeyJsonValueFromContainer(&options->root, key, strlen(key), v);
	return found != NULL && found->type != jbvNull;
}

static void
bad_option(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("privacy policy option \"%s\" %s", key, what),
			 errhint("Options: privacy_unit (column), epsilon (> 0), delta (0 to 1e-3), max_contributions (1 to 10000), "
					 "bounds ({\"column\": [lo, hi]}), budget_epsilon (>= epsilon), budget_delta, budget_window (interval).")));
}

static double
number_option(Jsonb *options, const char *key, double dflt, double min, double max)
{
	JsonbValue	v;
	double		d;

	if (!option(options, key, &v))
		return dflt;
	if (v.type != jbvNumeric)
		bad_option(key, "must be a number");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v.val.numeric)));
	if (!(d >= min && d <= max))
		bad_option(key, psprintf("must be between %g and %g", min, max));
	return d;
}

void
mesh_privacy_parse_options(Jsonb *options, Oid relid, MeshPrivacyRule *rule)
{
	JsonbValue	v;

	rule->epsilon = number_option(options, "epsilon", 0, 1e-6, 100);
	if (!(rule->epsilon > 0))
		bad_option("epsilon", "is required");
	rule->delta = number_option(options, "delta", 0, 0, 1e-3);
	rule->max_contributions = (int) number_option(options, "max_contributions", 1, 1, 10000);
	rule->budget_epsilon = number_option(options, "budget_epsilon", rule->epsilon * 10, 1e-6, 1e6);
	if (rule->budget_epsilon < rule->epsilon)
		bad_option("budget_epsilon", "must be at least epsilon");
	rule->budget_delta = number_option(options, "budget_delta", 0, 0, 1);
	if (rule->budget_delta > 0 && rule->budget_delta < rule->delta)
		bad_option("budget_delta", "must be at least delta");
	rule->window_usecs = USECS_PER_DAY;
	if (option(options, "budget_window", &v))
	{
		Interval   *iv;

		if (v.type != jbvString)
			bad_option("budget_window", "must be an interval, as text");
		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
												   CStringGetDatum(pnstrdup(v.val.string.val, v.val.string.len)),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		rule->window_usecs = iv->time + (int64) iv->day * USECS_PER_DAY +
			(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
		if (rule->window_usecs < USECS_PER_SEC || rule->window_usecs > 3660 * USECS_PER_DAY)
			bad_option("budget_window", "must be between 1 second and 10 years");
	}
	rule->nbounds = 0;
	rule->bound_attnos = NULL;
	rule->bound_lo = rule->bound_hi = NULL;
	if (option(options, "bounds", &v))
	{
		JsonbIterator *it;
		JsonbValue	k;
		JsonbIteratorToken tok;
		int			cap;

		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			bad_option("bounds", "must be an object {\"column\": [lo, hi]}");
		cap = JsonContainerSize(v.val.binary.data);
		rule->bound_attnos = palloc0(sizeof(AttrNumber) * Max(cap, 1));
		rule->bound_lo = palloc0(sizeof(double) * Max(cap, 1));
		rule->bound_hi = palloc0(sizeof(double) * Max(cap, 1));
		it = JsonbIteratorInit(v.val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			char	   *col;
			AttrNumber	attno;
			JsonbValue	pair;
			JsonbValue *lo;
			JsonbValue *hi;
			Oid			type;

			if (tok != WJB_KEY)
				continue;
			col = pnstrdup(k.val.string.val, k.val.string.len);
			tok = JsonbIteratorNext(&it, &pair, true);
			attno = get_attnum(relid, col);
			if (attno <= 0)
				bad_option("bounds", psprintf("names no column of the product: \"%s\"", col));
			type = get_atttype(relid, attno);
			if (type != INT2OID && type != INT4OID && type != INT8OID && type != FLOAT4OID &&
				type != FLOAT8OID && type != NUMERICOID)
				bad_option("bounds", psprintf("names column \"%s\", which is not numeric", col));
			if (pair.type != jbvBinary || !JsonContainerIsArray(pair.val.binary.data) ||
				JsonContainerSize(pair.val.binary.data) != 2 ||
				(lo = getIthJsonbValueFromContainer(pair.val.binary.data, 0)) == NULL ||
				(hi = getIthJsonbValueFromContainer(pair.val.binary.data, 1)) == NULL ||
				lo->type != jbvNumeric || hi->type != jbvNumeric)
				bad_option("bounds", psprintf("of \"%s\" must be [lo, hi], two numbers", col));
			rule->bound_attnos[rule->nbounds] = attno;
			rule->bound_lo[rule->nbounds] =
				DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(lo->val.numeric)));
			rule->bound_hi[rule->nbounds] =
				DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(hi->val.numeric)));
			if (!(rule->bound_lo[rule->nbounds] <= rule->bound_hi[rule->nbounds]) ||
				!isfinite(rule->bound_lo[rule->nbounds]) || !isfinite(rule->bound_hi[rule->nbounds]) ||
				Max(fabs(rule->bound_lo[rule->nbounds]), fabs(rule->bound_hi[rule->nbounds])) > 1e15)
				bad_option("bounds", psprintf("of \"%s\" must have lo <= hi, both within +-1e15", col));
			rule->nbounds++;
		}
	}
}

/* ----------------------------------------------------------------------
 * The planner's seam (governance/aggregate.c, step 3): the entries of q
 * that privacy policies apply to, already filtered and masked.
 * ---------------------------------------------------------------------- */
bool
mesh_privacy_rewrite(Query *q, List *entries, MeshAggPlanNotes *notes)
{
	bool		aggregation = false;

	foreach_ptr(MeshAggEntry, e, entries)
	{
		MeshAggRule *privacy = NULL;

		foreach_ptr(MeshAggRule, r, e->rules)
		{
			if (r->kind == POLICY_AGGREGATION)
				aggregation = true;
			else if (r->kind == POLICY_PRIVACY)
			{
				/* two budgets, two units: not combined in v1 */
				if (privacy != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("data product \"%s\" has two privacy policies that apply to you: \"%s\" and \"%s\"",
									e->product, privacy->policy_name, r->policy_name),
							 errhint("Ask the product's owner to keep one privacy policy per reader.")));
				privacy = r;
			}
		}
		if (privacy != NULL)
		{
			MeshPrivacyRule rule = {0};
			const MeshProduct *product = mesh_product_by_relid(e->relid);

			if (product == NULL)
				elog(ERROR, "privacy policy on a relation that is no product");
			rule.product_id = product->id;
			rule.product_name = e->product;
			rule.policy_id = privacy->policy_id;
			rule.policy_name = privacy->policy_name;
			rule.unit = privacy->entity_key;
			if (rule.unit <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("privacy policy \"%s\" names no privacy unit column", privacy->policy_name),
						 errdetail("meshpg refuses to read the product rather than read it without contribution bounds.")));
			mesh_privacy_parse_options(privacy->options, e->relid, &rule);
			notes->items = list_concat(notes->items,
									   mesh_privacy_rewrite_entry(q, e->rti, e->relid, &rule,
																  q == mesh_privacy_top_query));
			notes->filtered = true;
		}
	}
	/* an aggregation policy as well: its fold runs after the noise */
	return !aggregation;
}

/* meshpg._privacy_flush(): the worker's task, now (superusers; tests). */
Datum
mesh_dp_flush(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("meshpg._privacy_flush is for superusers")));
	(void) mesh_privacy_flush_task();
	PG_RETURN_VOID();
}
