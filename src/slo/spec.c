/*
 * spec.c
 *		An SLO's spec, checked against its product's relation and compiled:
 *		the keys each kind takes, their types and ranges, columns, the
 *		validity expression and the custom query.
 *
 * The same code runs at declaration (to refuse bad input and store the
 * canonical spec) and before every evaluation (the relation may have
 * changed since, and stored text is never trusted to be what was checked).
 * Validity expressions are stored deparsed, as policy expressions are: the
 * evaluator builds its query from the analysed tree, never from user text.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "meshpg/policy/policy.h"
#include "meshpg/slo/slo.h"

#define SLO_KIND_NAME(kind, name, keys, compile) [kind] = name,
const char *const mesh_slo_kind_names[] = {
	MESH_SLO_KINDS(SLO_KIND_NAME)
	[MESH_SLO_NKINDS] = NULL
};

/* Each kind's spec keys, NULL-terminated (MESH_SLO_KINDS in slo.h). */
static const char *const freshness_keys[] = {"column", "max_age", "objective", NULL};
static const char *const completeness_keys[] = {"columns", "min_ratio", "objective", NULL};
static const char *const validity_keys[] = {"expression", "min_ratio", "objective", NULL};
static const char *const uniqueness_keys[] = {"columns", "max_duplicates", "objective", NULL};
static const char *const volume_keys[] = {"min_rows", "max_rows", "max_change_pct",
"approximate", "objective", NULL};
static const char *const custom_keys[] = {"query", "op", "threshold", "objective", NULL};

#define MAX_KEYS 8

typedef struct SpecInput
{
	SloKind		kind;
	const char *product;
	Relation	rel;
	int			nkeys;
	char	   *keys[MAX_KEYS];
	JsonbValue	values[MAX_KEYS];
	const char *current;		/* key being checked, for the error context */
} SpecInput;

/* The kinds' spec compilers (below), and the table made from MESH_SLO_KINDS. */
typedef void (*SpecCompile) (SpecInput *in, SloSpec *out, StringInfo buf);
static void spec_freshness(SpecInput *in, SloSpec *out, StringInfo buf);
static void spec_completeness_validity(SpecInput *in, SloSpec *out, StringInfo buf);
static void spec_uniqueness(SpecInput *in, SloSpec *out, StringInfo buf);
static void spec_volume(SpecInput *in, SloSpec *out, StringInfo buf);
static void spec_custom(SpecInput *in, SloSpec *out, StringInfo buf);

typedef struct SloKindInfo
{
	const char *const *keys;	/* the spec keys it takes, NULL-terminated */
	SpecCompile compile;		/* checks a spec and compiles it */
} SloKindInfo;

#define SLO_KIND_ROW(kind, name, keys, compile) [kind] = {keys, compile},
static const SloKindInfo slo_kinds[] = {
	MESH_SLO_KINDS(SLO_KIND_ROW)
};

SloKind
mesh_slo_parse_kind(const char *kind)
{
	StringInfoData all;

	for (int i = 0; i < MESH_SLO_NKINDS; i++)
		if (strcmp(kind, mesh_slo_kind_names[i]) == 0)
			return (SloKind) i;
	initStringInfo(&all);
	for (int i = 0; i < MESH_SLO_NKINDS; i++)
		appendStringInfo(&all, "%s%s",
						 i == 0 ? "" : i == MESH_SLO_NKINDS - 1 ? " or " : ", ",
						 mesh_slo_kind_names[i]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid SLO kind \"%s\"", kind),
			 errhint("Use %s.", all.data)));
	pg_unreachable();
}

static void
spec_error_context(void *arg)
{
	SpecInput  *in = arg;

	if (in->current != NULL)
		errcontext("SLO spec key \"%s\"", in->current);
}

static void
bad_key(SpecInput *in, const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("SLO spec key \"%s\" must be %s", key, what)));
}

static void
read_keys(SpecInput *in, Jsonb *spec)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (spec == NULL || !JB_ROOT_IS_OBJECT(spec) || JB_ROOT_IS_SCALAR(spec))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLO spec must be a JSON object")));

	it = JsonbIteratorInit(&spec->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (int i = 0; slo_kinds[in->kind].keys[i] != NULL; i++)
			if (strcmp(slo_kinds[in->kind].keys[i], key) == 0)
				known = true;
		if (!known)
		{
			StringInfoData valid;

			initStringInfo(&valid);
			for (int i = 0; slo_kinds[in->kind].keys[i] != NULL; i++)
				appendStringInfo(&valid, "%s%s", i > 0 ? ", " : "", slo_kinds[in->kind].keys[i]);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in the spec of a %s SLO",
							key, mesh_slo_kind_names[in->kind]),
					 errhint("Valid keys: %s.", valid.data)));
		}
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		Assert(in->nkeys < MAX_KEYS);
		in->keys[in->nkeys] = key;
		in->values[in->nkeys] = v;
		in->nkeys++;
	}
}

/* The value of key, or NULL when absent or JSON null. */
static JsonbValue *
get_value(SpecInput *in, const char *key)
{
	in->current = key;
	for (int i = 0; i < in->nkeys; i++)
		if (strcmp(in->keys[i], key) == 0)
			return in->values[i].type == jbvNull ? NULL : &in->values[i];
	return NULL;
}

static char *
get_string(SpecInput *in, const char *key, bool required)
{
	JsonbValue *v = get_value(in, key);

	if (v == NULL)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the spec of a %s SLO needs key \"%s\"",
							mesh_slo_kind_names[in->kind], key)));
		return NULL;
	}
	if (v->type != jbvString || v->val.string.len == 0)
		bad_key(in, key, "a non-empty string");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

static Numeric
num_int(int64 i)
{
	return int64_to_numeric(i);
}

static bool
num_is_integral(Numeric n)
{
	Numeric		t;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		return false;
	t = DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
											Int32GetDatum(0)));
	return num_cmp(t, n) == 0;
}

/*
 * A number in [lo, hi] (either bound may be NULL; lo_open excludes lo), or
 * NULL when absent and not required.
 */
static Numeric
get_number(SpecInput *in, const char *key, bool required, Numeric lo, bool lo_open,
		   Numeric hi, bool integral, const char *what)
{
	JsonbValue *v = get_value(in, key);
	Numeric		n;

	if (v == NULL)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the spec of a %s SLO needs key \"%s\"",
							mesh_slo_kind_names[in->kind], key)));
		return NULL;
	}
	if (v->type != jbvNumeric)
		bad_key(in, key, what);
	n = v->val.numeric;
	if ((lo != NULL && (lo_open ? num_cmp(n, lo) <= 0 : num_cmp(n, lo) < 0)) ||
		(hi != NULL && num_cmp(n, hi) > 0) ||
		(integral && !num_is_integral(n)))
		bad_key(in, key, what);
	return n;
}

static AttrNumber
check_column(SpecInput *in, const char *name)
{
	AttrNumber	attno = get_attnum(RelationGetRelid(in->rel), name);

	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of data product \"%s\" does not exist",
						name, in->product)));
	return attno;
}

static List *
get_columns(SpecInput *in, const char *key)
{
	JsonbValue *v = get_value(in, key);
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	List	   *columns = NIL;

	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the spec of a %s SLO needs key \"%s\"",
						mesh_slo_kind_names[in->kind], key)));
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		bad_key(in, key, "an array of column names");
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		char	   *name;
		ListCell   *lc;

		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString || elem.val.string.len == 0)
			bad_key(in, key, "an array of column names");
		name = pnstrdup(elem.val.string.val, elem.val.string.len);
		foreach(lc, columns)
			if (strcmp(lfirst(lc), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is named twice in SLO spec key \"%s\"",
								name, key)));
		check_column(in, name);
		columns = lappend(columns, name);
	}
	if (columns == NIL)
		bad_key(in, key, "an array of column names");
	return columns;
}

/*
 * interval_in raises invalid_datetime_format; a spec's bad value is an
 * invalid parameter, named.  interval_in holds no resources, so catching
 * its error without a subtransaction is safe.
 */
static Interval *
parse_interval(SpecInput *in, const char *key, const char *text)
{
	MemoryContext cxt = CurrentMemoryContext;
	Interval   *volatile result = NULL;

	PG_TRY();
	{
		result = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
	}
	PG_END_TRY();
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLO spec key \"%s\" must be an interval, not \"%s\"", key, text),
				 errhint("For example \"90 minutes\" or \"1 day\".")));
	return result;
}

/*
 * Errors in a stored query or expression point into that text, not into
 * the caller's statement (as SQL function bodies do).
 */
static void
internal_query_callback(void *arg)
{
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery((const char *) arg);
	}
}

/*
 * Names resolve the same for everyone, whatever the search path of the
 * session or worker that evaluates: a planted operator is never picked up.
 */
static int
fixed_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

static void
compile_expression(SpecInput *in, SloSpec *out, const char *source)
{
	char	   *text = psprintf("SELECT %s", source);
	ErrorContextCallback errctx;
	Node	   *raw;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Node	   *expr;

	errctx.callback = internal_query_callback;
	errctx.arg = text;
	errctx.previous = error_context_stack;
	error_context_stack = &errctx;

	raw = mesh_parse_one_expression(text, "SLO expression", source);
	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = text;
	nsitem = addRangeTableEntryForRelation(pstate, in->rel, AccessShareLock,
										   makeAlias(MESH_SLO_ALIAS, NIL), false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);

	/* Analysed as a select-list item, then held to a row predicate's rules. */
	expr = transformExpr(pstate, raw, EXPR_KIND_SELECT_TARGET);
	if (pstate->p_hasAggs)
		ereport(ERROR,
				(errcode(ERRCODE_GROUPING_ERROR),
				 errmsg("aggregate functions are not allowed in SLO expressions")));
	if (pstate->p_hasWindowFuncs)
		ereport(ERROR,
				(errcode(ERRCODE_WINDOWING_ERROR),
				 errmsg("window functions are not allowed in SLO expressions")));
	if (pstate->p_hasTargetSRFs || expression_returns_set(expr))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-returning functions are not allowed in SLO expressions")));
	if (pstate->p_hasSubLinks)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("subqueries are not allowed in SLO expressions"),
				 errhint("Use a custom SLO to measure across relations.")));
	expr = coerce_to_boolean(pstate, expr, "SLO expression");
	assign_expr_collations(pstate, expr);
	if (contain_volatile_functions(expr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("functions in SLO expressions must not be volatile"),
				 errdetail("A measure must give the same answer for the same data.")));
	free_parsestate(pstate);
	error_context_stack = errctx.previous;

	out->expr = expr;
	out->expr_text = deparse_expression(expr,
										deparse_context_for(MESH_SLO_ALIAS, RelationGetRelid(in->rel)),
										false, false);
}

static void
compile_query(SloSpec *out, const char *query)
{
	ErrorContextCallback errctx;
	List	   *parsed;
	RawStmt    *raw;
	SelectStmt *sel;
	Query	   *q;
	ListCell   *lc;
	int			ncols = 0;
	Oid			type = InvalidOid;

	errctx.callback = internal_query_callback;
	errctx.arg = (void *) query;
	errctx.previous = error_context_stack;
	error_context_stack = &errctx;
	parsed = raw_parser(query, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1 || !IsA(((RawStmt *) linitial(parsed))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("custom SLO query must be a single SELECT statement")));
	raw = linitial(parsed);
	sel = (SelectStmt *) raw->stmt;
	if (sel->intoClause != NULL || sel->lockingClause != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("custom SLO query must be a plain SELECT"),
				 errdetail("SELECT INTO and FOR UPDATE/SHARE write or lock.")));
	q = parse_analyze_fixedparams(raw, query, NULL, 0, NULL);
	if (q->commandType != CMD_SELECT || q->hasModifyingCTE || q->rowMarks != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("custom SLO query must be a plain SELECT"),
				 errdetail("Data-modifying WITH clauses and row locks are not allowed.")));
	foreach(lc, q->targetList)
	{
		TargetEntry *te = lfirst(lc);

		if (te->resjunk)
			continue;
		ncols++;
		type = getBaseType(exprType((Node *) te->expr));
	}
	if (ncols != 1 || TypeCategory(type) != TYPCATEGORY_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("custom SLO query must return one numeric column"),
				 ncols == 1 ? errdetail("It returns type %s.", format_type_be(type)) :
				 errdetail("It returns %d columns.", ncols)));
	if (contain_volatile_functions((Node *) q))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("functions in a custom SLO query must not be volatile"),
				 errdetail("A measure must give the same answer for the same data, and must not write.")));
	error_context_stack = errctx.previous;
	out->query = pstrdup(query);
}

static void
append_key(StringInfo buf, const char *key)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

static void
append_string(StringInfo buf, const char *key, const char *value)
{
	append_key(buf, key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

static void
append_number(StringInfo buf, const char *key, Numeric value)
{
	append_key(buf, key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																		 NumericGetDatum(value))));
}

static void
append_columns(StringInfo buf, const char *key, List *columns)
{
	ListCell   *lc;

	append_key(buf, key);
	appendStringInfoChar(buf, '[');
	foreach(lc, columns)
	{
		if (foreach_current_index(lc) > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, lfirst(lc));
	}
	appendStringInfoChar(buf, ']');
}

static Numeric
num_text(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* freshness: max_age, by a column or by the last committed change */
static void
spec_freshness(SpecInput *in, SloSpec *out, StringInfo buf)
{
	Relation	rel = in->rel;
	char		relkind = in->rel->rd_rel->relkind;
	const char *product = in->product;
	char	   *age = get_string(in, "max_age", true);
	Interval	zero = {0};

	out->column = get_string(in, "column", false);
	if (out->column != NULL)
	{
		AttrNumber	attno = check_column(in, out->column);
		Oid			type = getBaseType(TupleDescAttr(RelationGetDescr(rel), attno - 1)->atttypid);

		if (type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != DATEOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is of type %s, not a date or timestamp",
							out->column, format_type_be(type)),
					 errdetail("Freshness by column measures the age of max(column).")));
	}
	else if (relkind == RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("freshness by last change cannot be measured on view \"%s\"",
						product),
				 errdetail("A view is never written; its sources are."),
				 errhint("Name a timestamp column with key \"column\".")));
	in->current = "max_age";
	out->max_age = parse_interval(in, "max_age", age);
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(out->max_age),
										  IntervalPGetDatum(&zero))) <= 0)
		bad_key(in, "max_age", "a positive interval");
	out->max_age_seconds =
		DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale,
											DirectFunctionCall2(extract_interval,
																CStringGetTextDatum("epoch"),
																IntervalPGetDatum(out->max_age))));
	append_string(buf, "column", out->column);
	append_string(buf, "max_age",
				  DatumGetCString(DirectFunctionCall1(interval_out,
													  IntervalPGetDatum(out->max_age))));
}

/* completeness (columns) and validity (expression): min_ratio */
static void
spec_completeness_validity(SpecInput *in, SloSpec *out, StringInfo buf)
{
	SloKind		kind = in->kind;

	if (kind == SLO_COMPLETENESS)
	{
		out->columns = get_columns(in, "columns");
		append_columns(buf, "columns", out->columns);
	}
	else
	{
		compile_expression(in, out, get_string(in, "expression", true));
		append_string(buf, "expression", out->expr_text);
	}
	out->min_ratio = get_number(in, "min_ratio", true, num_int(0), false, num_int(1),
								false, "a number between 0 and 1");
	append_number(buf, "min_ratio", out->min_ratio);
}

/* uniqueness: columns, max_duplicates */
static void
spec_uniqueness(SpecInput *in, SloSpec *out, StringInfo buf)
{
	Relation	rel = in->rel;
	ListCell   *lc;

	out->columns = get_columns(in, "columns");
	foreach(lc, out->columns)
	{
		AttrNumber	attno = get_attnum(RelationGetRelid(rel), lfirst(lc));
		Oid			type = TupleDescAttr(RelationGetDescr(rel), attno - 1)->atttypid;
		TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_LT_OPR | TYPECACHE_EQ_OPR);

		in->current = "columns";
		if (!OidIsValid(tc->lt_opr) || !OidIsValid(tc->eq_opr))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("column \"%s\" of type %s cannot be checked for duplicates",
							(char *) lfirst(lc), format_type_be(type)),
					 errdetail("The type has no ordering operator.")));
	}
	out->max_duplicates = get_number(in, "max_duplicates", false, num_int(0), false,
									 NULL, true, "a non-negative integer");
	if (out->max_duplicates == NULL)
		out->max_duplicates = num_int(0);
	append_columns(buf, "columns", out->columns);
	append_number(buf, "max_duplicates", out->max_duplicates);
}

/* volume: min_rows, max_rows, max_change_pct, approximate */
static void
spec_volume(SpecInput *in, SloSpec *out, StringInfo buf)
{
	char		relkind = in->rel->rd_rel->relkind;
	const char *product = in->product;
	JsonbValue *approx;

	out->min_rows = get_number(in, "min_rows", false, num_int(0), false, NULL, true,
							   "a non-negative integer");
	out->max_rows = get_number(in, "max_rows", false, num_int(0), false, NULL, true,
							   "a non-negative integer");
	out->max_change_pct = get_number(in, "max_change_pct", false, num_int(0), true,
									 NULL, false, "a positive number");
	approx = get_value(in, "approximate");
	if (approx != NULL && approx->type != jbvBool)
		bad_key(in, "approximate", "a boolean");
	out->approximate = approx != NULL && approx->val.boolean;
	in->current = NULL;
	if (out->min_rows == NULL && out->max_rows == NULL && out->max_change_pct == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a volume SLO needs min_rows, max_rows or max_change_pct")));
	if (out->min_rows != NULL && out->max_rows != NULL &&
		num_cmp(out->min_rows, out->max_rows) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_rows must not exceed max_rows")));
	if (out->approximate && relkind == RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("approximate volume cannot be measured on view \"%s\"", product),
				 errdetail("A view has no statistics of its own."),
				 errhint("Leave \"approximate\" false to count the rows.")));
	append_number(buf, "min_rows", out->min_rows);
	append_number(buf, "max_rows", out->max_rows);
	append_number(buf, "max_change_pct", out->max_change_pct);
	append_key(buf, "approximate");
	appendStringInfoString(buf, out->approximate ? "true" : "false");
}

/* custom: a query, an operator, a threshold */
static void
spec_custom(SpecInput *in, SloSpec *out, StringInfo buf)
{
	static const char *const ops[] = {"<", "<=", "=", ">=", ">", "<>"};
	bool		ok = false;

	out->op = get_string(in, "op", false);
	if (out->op == NULL)
		out->op = ">=";
	for (size_t i = 0; i < lengthof(ops); i++)
		ok |= strcmp(out->op, ops[i]) == 0;
	if (!ok)
		bad_key(in, "op", "one of <, <=, =, >=, >, <>");
	out->threshold = get_number(in, "threshold", true, NULL, false, NULL, false,
								"a number");
	compile_query(out, get_string(in, "query", true));
	append_string(buf, "query", out->query);
	append_string(buf, "op", out->op);
	append_number(buf, "threshold", out->threshold);
}

SloSpec *
mesh_slo_compile(SloKind kind, Jsonb *spec, Relation rel, const char *product,
				 Jsonb **canonical)
{
	SpecInput	in = {0};
	SloSpec    *out = palloc0(sizeof(SloSpec));
	ErrorContextCallback errctx;
	StringInfoData buf;
	int			nestlevel;

	in.kind = kind;
	in.product = product;
	in.rel = rel;
	out->kind = kind;
	read_keys(&in, spec);

	errctx.callback = spec_error_context;
	errctx.arg = &in;
	errctx.previous = error_context_stack;
	error_context_stack = &errctx;
	nestlevel = fixed_search_path();

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');

	out->objective = get_number(&in, "objective", false, num_int(0), true, num_int(1), false,
								"a number in (0, 1]");
	if (out->objective == NULL)
		out->objective = num_text("0.99");
	append_number(&buf, "objective", out->objective);

	slo_kinds[kind].compile(&in, out, &buf);
	appendStringInfoChar(&buf, '}');

	AtEOXact_GUC(true, nestlevel);
	error_context_stack = errctx.previous;

	if (canonical != NULL)
		*canonical = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	return out;
}
