/*
 * tally.c
 *		meshpg._slo_tally(VARIADIC "any"): the counts of evaluate's one pass
 *		in a single aggregate.
 *
 * The pass counted each completeness and validity measure with its own
 * aggregate, count(*) FILTER (WHERE ...), plus count(*) for the rows: one
 * transition call per measure per row, which on the benchmark's product
 * was about a tenth of the pass.  _slo_tally(b1, ..., bn) makes one call
 * per row whatever n is, and returns {rows, rows where b1 is true, ...,
 * rows where bn is true}: exactly what the separate counts gave, since a
 * FILTER, too, keeps a row only when its condition is true (not NULL).
 * Over no rows it returns its initial state, the empty array.
 *
 * The state is an int8[] that the transition updates in place, as
 * PostgreSQL's own int4_avg_accum does, so a row allocates nothing; being a
 * plain array, it travels from parallel workers to the leader without
 * serialization, and the combine function adds the arrays.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"

#include "meshpg/registry/registry.h"
#include "meshpg/slo/slo.h"

PG_FUNCTION_INFO_V1(meshpg_slo_tally_step);
PG_FUNCTION_INFO_V1(meshpg_slo_tally_combine);

/* The counters of a state: NULL for the initial, empty one. */
static int64 *
counters(ArrayType *state, int *n)
{
	if (ARR_NDIM(state) == 0)
		return NULL;
	if (ARR_NDIM(state) != 1 || ARR_HASNULL(state) || ARR_ELEMTYPE(state) != INT8OID)
		elog(ERROR, "meshpg._slo_tally: malformed state");
	*n = ARR_DIMS(state)[0];
	/* ARR_DATA_PTR without its NULL-bitmap case, which -Wextra rejects */
	return (int64 *) ((char *) state + ARR_OVERHEAD_NONULLS(1));
}

Datum
meshpg_slo_tally_step(PG_FUNCTION_ARGS)
{
	int			nargs = PG_NARGS() - 1;
	ArrayType  *state;
	int64	   *c;
	int			n;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "meshpg._slo_tally_step called in non-aggregate context");

	/* Only booleans are counted: checked once per query. */
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		for (int i = 1; i <= nargs; i++)
			if (get_fn_expr_argtype(fcinfo->flinfo, i) != BOOLOID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("arguments of meshpg._slo_tally must be boolean")));
		fcinfo->flinfo->fn_extra = fcinfo->flinfo;
	}

	state = PG_GETARG_ARRAYTYPE_P(0);
	c = counters(state, &n);
	if (c == NULL)
	{
		/*
		 * The first row: the executor copies the new state into the
		 * aggregate's context, where later rows update it in place.
		 */
		state = mesh_int64_array(NULL, nargs + 1, INT8OID);
		c = counters(state, &n);
	}
	else if (n != nargs + 1)
		elog(ERROR, "meshpg._slo_tally: %d arguments for a state of %d", nargs, n);

	c[0]++;
	for (int i = 1; i <= nargs; i++)
		if (!PG_ARGISNULL(i) && PG_GETARG_BOOL(i))
			c[i]++;
	PG_RETURN_ARRAYTYPE_P(state);
}

Datum
meshpg_slo_tally_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *into = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *from = PG_GETARG_ARRAYTYPE_P(1);
	int			n_into;
	int			n_from;
	int64	   *c_into;
	int64	   *c_from;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "meshpg._slo_tally_combine called in non-aggregate context");
	c_from = counters(from, &n_from);
	if (c_from == NULL)
		PG_RETURN_ARRAYTYPE_P(into);
	c_into = counters(into, &n_into);
	if (c_into == NULL)
		PG_RETURN_ARRAYTYPE_P(from);	/* the executor copies it */
	if (n_into != n_from)
		elog(ERROR, "meshpg._slo_tally: combining states of %d and %d counters",
			 n_into, n_from);
	for (int i = 0; i < n_into; i++)
		c_into[i] += c_from[i];
	PG_RETURN_ARRAYTYPE_P(into);
}
