/*
 * compile.c
 *		The policy compiler: loads the policies that govern a relation,
 *		decides which ones a reader is exempt from, and turns the rest into
 *		expressions the planner hook splices into the query.
 *
 * Loading happens once per relation and backend (the product cache keeps
 * the analysed policies); compiling happens at plan time, for the roles the
 * query runs as, and costs a few list walks and copies.  Nothing here reads
 * the catalog through SQL: the planner calls it.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "rewrite/rewriteManip.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/policy/policy.h"
#include "meshpg/text/text.h"

/* enforcement's observer of loaded policy expressions (src/hooks.c) */
static MeshPolicyExprObserver policy_expr_observer = NULL;

void
mesh_register_policy_expr_observer(MeshPolicyExprObserver observer)
{
	policy_expr_observer = observer;
}

/* OIDs of meshpg's own functions, refreshed when the catalog changes. */
typedef struct MeshFuncs
{
	uint64		generation;
	Oid			attribute;
	Oid			purpose;
	Oid			mask_hash;
	Oid			mask_email;
	Oid			mask_partial;
	Oid			mask_round;
	Oid			mask_bucket;
} MeshFuncs;

static MeshFuncs funcs = {(uint64) -1};

static Oid
mesh_func(const char *name, int nargs, Oid *argtypes)
{
	/* missing only mid-CREATE EXTENSION; callers treat it as absent */
	return LookupFuncName(list_make2(makeString("meshpg"), makeString((char *) name)),
						  nargs, argtypes, true);
}

static const MeshFuncs *
mesh_funcs(void)
{
	if (funcs.generation != mesh_catalog_generation())
	{
		Oid			text1[1] = {TEXTOID};
		Oid			partial[4] = {TEXTOID, INT4OID, INT4OID, TEXTOID};
		Oid			numeric2[2] = {NUMERICOID, NUMERICOID};

		funcs.attribute = mesh_func("attribute", 1, text1);
		funcs.purpose = mesh_func("purpose", 0, NULL);
		funcs.mask_hash = mesh_func("mask_hash", 1, text1);
		funcs.mask_email = mesh_func("mask_email", 1, text1);
		funcs.mask_partial = mesh_func("mask_partial", 4, partial);
		funcs.mask_round = mesh_func("mask_round", 2, numeric2);
		funcs.mask_bucket = mesh_func("mask_bucket", 2, numeric2);
		funcs.generation = mesh_catalog_generation();
	}
	return &funcs;
}

Oid
mesh_mask_hash_oid(void)
{
	return mesh_funcs()->mask_hash;
}

/*
 * The masks' table is below (mesh_masks[]); these read it.  The name of a
 * mask kind, "none" for none.
 */
const char *
mesh_mask_name(MeshMaskKind kind)
{
	const MeshMaskInfo *info = mesh_mask_info_of(kind);

	return info ? info->name : "none";
}

static MeshMaskKind
parse_mask_kind(const char *name)
{
	const MeshMaskInfo *info = mesh_mask_info(name);

	if (info == NULL)
		elog(ERROR, "unexpected mask \"%s\"", name);
	return info->kind;
}

/* A jsonb object's member as text, or NULL. */
static char *
jsonb_member_text(Jsonb *jb, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v->val.numeric)));
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	return NULL;
}

/* {"key": ["v1", "v2"], "other": "v"} */
static List *
parse_exempt_attributes(Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *result = NIL;
	MeshExemptAttribute *current = NULL;
	int			depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			current = palloc0(sizeof(MeshExemptAttribute));
			current->key = mesh_normalize_name(key, "attribute", true);
			if (current->key == NULL)
				current->key = key;
			result = lappend(result, current);
		}
		else if ((tok == WJB_VALUE || tok == WJB_ELEM) && current != NULL &&
				 v.type == jbvString)
			current->values = lappend(current->values,
									  pnstrdup(v.val.string.val, v.val.string.len));
	}
	return result;
}

static void
policy_load_context(void *arg)
{
	errcontext("loading meshpg policy \"%s\"", (char *) arg);
}

/* Builds one policy instance from its catalog row, for rel. */
static MeshPolicy *
policy_from_tuple(HeapTuple tup, TupleDesc desc, Relation rel, const char *subject_column)
{
	MeshPolicy *p = palloc0(sizeof(MeshPolicy));
	bool		isnull;
	Datum		d;
	char	   *expression;
	char	   *column;
	Jsonb	   *args;
	ErrorContextCallback callback;

	p->id = DatumGetInt64(heap_getattr(tup, Anum_cat_policy_id, desc, &isnull));
	p->name = TextDatumGetCString(heap_getattr(tup, Anum_cat_policy_name, desc, &isnull));
	callback.callback = policy_load_context;
	callback.arg = p->name;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	{
		char	   *kind = TextDatumGetCString(heap_getattr(tup, Anum_cat_policy_kind, desc, &isnull));
		const MeshPolicyKindInfo *info = mesh_policy_kind_info(kind);

		if (info == NULL)
			elog(ERROR, "unexpected policy kind \"%s\"", kind);
		p->kind = info->kind;
	}
	p->is_row = p->kind == POLICY_ROW;
	d = heap_getattr(tup, Anum_cat_policy_mask, desc, &isnull);
	p->mask = isnull ? MASK_NONE : parse_mask_kind(TextDatumGetCString(d));

	d = heap_getattr(tup, Anum_cat_policy_column, desc, &isnull);
	column = isnull ? (char *) subject_column : TextDatumGetCString(d);
	if (column != NULL)
	{
		p->subject = get_attnum(RelationGetRelid(rel), column);
		if (p->subject <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("policy \"%s\" governs column \"%s\", which relation \"%s\" does not have",
							p->name, column, RelationGetRelationName(rel)),
					 errdetail("meshpg refuses to read the relation rather than read it ungoverned.")));
	}

	args = DatumGetJsonbP(heap_getattr(tup, Anum_cat_policy_mask_args, desc, &isnull));
	p->arg_value = jsonb_member_text(args, "value");
	p->fill = jsonb_member_text(args, "fill");
	if (p->fill == NULL)
		p->fill = "*";
	p->unit = jsonb_member_text(args, "unit");
	p->step = jsonb_member_text(args, "step");
	if (p->step == NULL)
		p->step = jsonb_member_text(args, "width");	/* bucket */
	p->keep_first = jsonb_member_text(args, "keep_first") ?
		pg_strtoint32(jsonb_member_text(args, "keep_first")) : 0;
	p->keep_last = jsonb_member_text(args, "keep_last") ?
		pg_strtoint32(jsonb_member_text(args, "keep_last")) : 4;
	p->options = DatumGetJsonbPCopy(heap_getattr(tup, Anum_cat_policy_mask_args, desc, &isnull));
	if (p->kind == POLICY_AGGREGATION || p->kind == POLICY_PRIVACY)
	{
		char	   *size = jsonb_member_text(args, "min_group_size");
		char	   *key = jsonb_member_text(args, "entity_key");

		p->min_group_size = size ? pg_strtoint32(size) : 1;
		if (key != NULL)
		{
			p->entity_key = get_attnum(RelationGetRelid(rel), key);
			if (p->entity_key <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("policy \"%s\" counts entities by column \"%s\", which relation \"%s\" does not have",
								p->name, key, RelationGetRelationName(rel)),
						 errdetail("meshpg refuses to read the relation rather than read it ungoverned.")));
		}
		p->aggregates = MESH_AGG_DEFAULT;
		{
			JsonbValue	k;
			JsonbValue *v;

			k.type = jbvString;
			k.val.string.val = "aggregates";
			k.val.string.len = strlen("aggregates");
			v = findJsonbValueFromContainer(&args->root, JB_FOBJECT, &k);
			if (v != NULL && v->type == jbvBinary)
			{
				JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
				JsonbValue	e;
				JsonbIteratorToken tok;

				p->aggregates = 0;
				while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
					if (tok == WJB_ELEM && e.type == jbvString)
						p->aggregates |= mesh_agg_flag(pnstrdup(e.val.string.val,
																 e.val.string.len));
			}
		}
	}

	d = heap_getattr(tup, Anum_cat_policy_expression, desc, &isnull);
	expression = isnull ? NULL : TextDatumGetCString(d);
	if (expression != NULL)
	{
		Form_pg_attribute att = p->subject > 0 ?
			TupleDescAttr(RelationGetDescr(rel), p->subject - 1) : NULL;

		p->expr = mesh_analyze_expr(expression, rel, p->subject, p->is_row,
									att ? att->atttypid : InvalidOid,
									att ? att->atttypmod : -1, true);
		/*
		 * the functions it calls resolve names as the policy did: pinned by
		 * enforcement's observer, which must be there (fail closed)
		 */
		if (policy_expr_observer == NULL)
			elog(ERROR, "meshpg: no policy expression observer registered");
		policy_expr_observer(p->expr);
	}

	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(heap_getattr(tup, Anum_cat_policy_exempt_roles,
														  desc, &isnull)),
						  REGROLEOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
		p->exempt_roles = palloc(sizeof(Oid) * (n + 1));
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				p->exempt_roles[p->nexempt_roles++] = DatumGetObjectId(elems[i]);
	}
	p->exempt_attributes = parse_exempt_attributes(DatumGetJsonbP(heap_getattr(tup, Anum_cat_policy_exempt_attributes,
																			   desc, &isnull)));
	p->exempt_purposes = mesh_text_array_list(heap_getattr(tup, Anum_cat_policy_exempt_purposes,
													  desc, &isnull));
	p->applies_to_domain = DatumGetBool(heap_getattr(tup, Anum_cat_policy_applies_to_domain,
													 desc, &isnull));
	error_context_stack = callback.previous;
	return p;
}

static void
scan_policies(Relation polrel, Oid index, int64 key, Relation rel,
			  const char *subject_column, List **out)
{
	SysScanDesc scan;
	ScanKeyData skey;
	HeapTuple	tup;
	AttrNumber	attno = index == mesh_catalog()->policy_product_idx ?
		Anum_cat_policy_product_id : Anum_cat_policy_tag_id;

	ScanKeyInit(&skey, attno, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	scan = systable_beginscan(polrel, index, true, NULL, 1, &skey);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		*out = lappend(*out, policy_from_tuple(tup, RelationGetDescr(polrel), rel,
											   subject_column));
	systable_endscan(scan);
}

static int
policy_name_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(((MeshPolicy *) lfirst(a))->name, ((MeshPolicy *) lfirst(b))->name);
}

/*
 * The policies governing relid (the product's relation, or one of its
 * partitions or children): those bound to the product, and those bound to
 * a tag on one of its columns, once per tagged column.  Palloc'd in the
 * caller's context.
 */
List *
mesh_load_policies(const MeshProduct *product, Oid relid)
{
	const MeshCatalog *cat = mesh_catalog();
	Relation	rel = relation_open(relid, AccessShareLock);
	Relation	polrel = table_open(cat->policy_rel, AccessShareLock);
	Relation	tagrel = table_open(cat->column_tag_rel, AccessShareLock);
	SysScanDesc scan;
	ScanKeyData skey;
	HeapTuple	tup;
	List	   *policies = NIL;

	/*
	 * explain_access(at => t): the rows in force then, read from the
	 * governance history in cat_policy's own row type (asof.c), compiled
	 * by the same code as the table's.
	 */
	if (mesh_asof_active())
	{
		List	   *subjects;
		List	   *rows = mesh_asof_policy_rows(product->id, &subjects);
		ListCell   *lc;
		ListCell   *sc;

		forboth(lc, rows, sc, subjects)
			policies = lappend(policies, policy_from_tuple(lfirst(lc), RelationGetDescr(polrel),
														   rel, lfirst(sc)));
		table_close(tagrel, AccessShareLock);
		table_close(polrel, AccessShareLock);
		relation_close(rel, AccessShareLock);
		list_sort(policies, policy_name_cmp);
		return policies;
	}

	scan_policies(polrel, cat->policy_product_idx, product->id, rel, NULL, &policies);

	ScanKeyInit(&skey, Anum_cat_column_tag_product_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(product->id));
	scan = systable_beginscan(tagrel, cat->column_tag_pkey, true, NULL, 1, &skey);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		char	   *column = TextDatumGetCString(heap_getattr(tup, Anum_cat_column_tag_column,
															  RelationGetDescr(tagrel), &isnull));
		int64		tag = DatumGetInt64(heap_getattr(tup, Anum_cat_column_tag_tag_id,
													 RelationGetDescr(tagrel), &isnull));

		scan_policies(polrel, cat->policy_tag_idx, tag, rel, column, &policies);
	}
	systable_endscan(scan);

	table_close(tagrel, AccessShareLock);
	table_close(polrel, AccessShareLock);
	relation_close(rel, AccessShareLock);

	list_sort(policies, policy_name_cmp);
	return policies;
}

static bool
has_attribute_value(Oid role, const MeshExemptAttribute *attr)
{
	List	   *values = mesh_role_attribute(role, attr->key);
	ListCell   *lc;
	ListCell   *vc;

	foreach(lc, values)
		foreach(vc, attr->values)
			if (strcmp(strVal(lfirst(lc)), lfirst(vc)) == 0)
				return true;
	return false;
}

/* Whether role's grant on this product names the session's purpose. */
/*
 * The earliest expiry of a grant that an exemption or meshpg.purpose() was
 * granted on while building rules: the rules hold only until then.
 */
static TimestampTz purpose_valid_until = DT_NOEND;

static bool
grant_names_purpose(const MeshProduct *product, Oid role, const char *purpose)
{
	TimestampTz now = mesh_policy_now();

	for (int i = 0; i < product->ngrants; i++)
	{
		const MeshGrant *g = &product->grants[i];

		if (g->purpose != NULL && strcmp(g->purpose, purpose) == 0 &&
			(!g->has_expiry || g->expires_at > now) &&
			has_privs_of_role(role, g->grantee))
		{
			if (g->has_expiry && g->expires_at < purpose_valid_until)
				purpose_valid_until = g->expires_at;
			return true;
		}
	}
	return false;
}

/*
 * Whether role is exempt from policy on product, and why.  Superusers are
 * exempt from everything, as from row security.
 */
bool
mesh_policy_exempt(const MeshProduct *product, const MeshPolicy *policy, Oid role,
				   const char **why)
{
	ListCell   *lc;
	bool		domain_member = has_privs_of_role(role, product->domain_owner);

	if (superuser_arg(role))
	{
		*why = "superuser";
		return true;
	}
	if (domain_member && !policy->applies_to_domain)
	{
		*why = "member of the owning domain";
		return true;
	}
	for (int i = 0; i < policy->nexempt_roles; i++)
		if (has_privs_of_role(role, policy->exempt_roles[i]))
		{
			*why = psprintf("member of exempt role \"%s\"",
							GetUserNameFromId(policy->exempt_roles[i], false));
			return true;
		}
	foreach(lc, policy->exempt_attributes)
	{
		MeshExemptAttribute *attr = lfirst(lc);

		if (has_attribute_value(role, attr))
		{
			*why = psprintf("attribute \"%s\" has an exempt value", attr->key);
			return true;
		}
	}
	if (mesh_session_purpose != NULL && mesh_session_purpose[0] != '\0')
	{
		foreach(lc, policy->exempt_purposes)
		{
			if (strcmp(lfirst(lc), mesh_session_purpose) == 0 &&
				(domain_member || grant_names_purpose(product, role, mesh_session_purpose)))
			{
				*why = psprintf("session purpose \"%s\", named by the role's grant",
								mesh_session_purpose);
				return true;
			}
		}
	}
	*why = NULL;
	return false;
}

typedef struct IdentityContext
{
	Oid			role;
	const MeshProduct *product;
	const MeshFuncs *funcs;
} IdentityContext;

static Const *
text_array_const(List *values)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(values) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, values)
		elems[n++] = CStringGetTextDatum(strVal(lfirst(lc)));
	return makeConst(TEXTARRAYOID, -1, InvalidOid, -1,
					 PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT)),
					 false, false);
}

/*
 * Specialises a policy for one role: meshpg.attribute('k') becomes the
 * role's values, meshpg.purpose() the session purpose if the role's grant
 * allows it, current_user the role's name.
 */
static Node *
identity_mutator(Node *node, IdentityContext *ctx)
{
	if (node == NULL)
		return NULL;
	/* nested queries recurse without nodeFuncs.c checking */
	check_stack_depth();
	/* also inside subqueries of the policy (mapping tables) */
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, identity_mutator, ctx, 0);
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *f = (FuncExpr *) node;

		if (f->funcid == ctx->funcs->attribute && IsA(linitial(f->args), Const) &&
			!((Const *) linitial(f->args))->constisnull)
			return (Node *) text_array_const(mesh_role_attribute(ctx->role,
																 TextDatumGetCString(((Const *) linitial(f->args))->constvalue)));
		if (f->funcid == ctx->funcs->purpose)
		{
			bool		allowed = mesh_session_purpose != NULL && mesh_session_purpose[0] != '\0' &&
				(has_privs_of_role(ctx->role, ctx->product->domain_owner) ||
				 grant_names_purpose(ctx->product, ctx->role, mesh_session_purpose));

			return (Node *) makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
									  allowed ? CStringGetTextDatum(mesh_session_purpose) : (Datum) 0,
									  !allowed, false);
		}
	}
	if (IsA(node, SQLValueFunction))
	{
		SQLValueFunction *svf = (SQLValueFunction *) node;

		if (svf->op == SVFOP_CURRENT_USER || svf->op == SVFOP_CURRENT_ROLE ||
			svf->op == SVFOP_USER)
			return (Node *) makeConst(NAMEOID, -1, C_COLLATION_OID, NAMEDATALEN,
									  DirectFunctionCall1(namein,
														  CStringGetDatum(GetUserNameFromId(ctx->role, false))),
									  false, false);
	}
	return expression_tree_mutator(node, identity_mutator, ctx);
}

/*
 * x = ANY ('{v}') with one value, the common case of an attribute, becomes
 * x = 'v': cheaper per row, and an index on x can serve it.
 */
static Node *
single_value_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	/* nested queries recurse without nodeFuncs.c checking */
	check_stack_depth();
	if (IsA(node, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) node;
		Const	   *array = lsecond(saop->args);

		if (saop->useOr && IsA(array, Const) && !array->constisnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(array->constvalue);

			if (ARR_NDIM(arr) == 1 && ARR_DIMS(arr)[0] == 1 && !ARR_HASNULL(arr))
			{
				int16		elmlen;
				bool		elmbyval;
				char		elmalign;
				Datum	   *elems;
				int			n;

				get_typlenbyvalalign(ARR_ELEMTYPE(arr), &elmlen, &elmbyval, &elmalign);
				deconstruct_array(arr, ARR_ELEMTYPE(arr), elmlen, elmbyval, elmalign,
								  &elems, NULL, &n);
				return (Node *) make_opclause(saop->opno, BOOLOID, false,
											  (Expr *) copyObject(linitial(saop->args)),
											  (Expr *) makeConst(ARR_ELEMTYPE(arr), -1,
																 array->constcollid, elmlen,
																 elems[0], false, elmbyval),
											  InvalidOid, saop->inputcollid);
			}
		}
	}
	return expression_tree_mutator(node, single_value_mutator, context);
}

/* A row policy's filter for one reader, its Vars at range-table index 1. */
Node *
mesh_instantiate_filter(const MeshProduct *product, const MeshPolicy *policy, Oid role)
{
	IdentityContext ctx;
	Node	   *expr;

	ctx.role = role;
	ctx.product = product;
	ctx.funcs = mesh_funcs();
	/* the mutator copies as it goes */
	expr = identity_mutator(policy->expr, &ctx);
	return single_value_mutator(expr, NULL);
}

/* An explicit cast, as the mask's SQL form would write it. */
static Expr *
cast_to(Expr *expr, Oid type, int32 typmod, const char *mask)
{
	Node	   *result = coerce_to_target_type(NULL, (Node *) expr, exprType((Node *) expr),
											   type, typmod, COERCION_EXPLICIT,
											   COERCE_EXPLICIT_CAST, -1);

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("mask \"%s\" cannot produce type %s", mask, format_type_be(type))));
	return (Expr *) result;
}

/* The stand-in value of the redact mask: given, or a default per type. */
static Expr *
redact_const(const MeshPolicy *policy, Form_pg_attribute att)
{
	const char *text = policy->arg_value;
	Oid			typinput;
	Oid			typioparam;

	if (text == NULL)
	{
		switch (att->atttypid)
		{
			case DATEOID:
			case TIMESTAMPOID:
			case TIMESTAMPTZOID:
				text = "1970-01-01";
				break;
			case TIMEOID:
			case TIMETZOID:
				text = "00:00";
				break;
			default:
				switch (TypeCategory(att->atttypid))
				{
					case TYPCATEGORY_STRING:
						text = "*****";
						break;
					case TYPCATEGORY_NUMERIC:
						text = "0";
						break;
					case TYPCATEGORY_BOOLEAN:
						text = "false";
						break;
					default:
						return (Expr *) makeNullConst(att->atttypid, att->atttypmod,
													  att->attcollation);
				}
		}
	}
	/* parsed without the column's typmod, then cast to it (varchar(3) truncates) */
	getTypeInputInfo(att->atttypid, &typinput, &typioparam);
	return cast_to((Expr *) makeConst(att->atttypid, -1, att->attcollation, att->attlen,
									  OidInputFunctionCall(typinput, (char *) text,
														   typioparam, -1),
									  false, att->attbyval),
				   att->atttypid, att->atttypmod, "redact");
}

static FuncExpr *
call(Oid funcid, Oid rettype, List *args, Oid collation)
{
	return makeFuncExpr(funcid, rettype, args, collation, collation, COERCE_EXPLICIT_CALL);
}

/*
 * The mask functions' input: a text mask (hash, email, partial) reads the
 * column as text, and applies to text columns only.
 */
static Expr *
text_mask_input(const MeshPolicy *policy, Form_pg_attribute att, Var *subject)
{
	const char *mask = mesh_mask_name(policy->mask);

	if (TypeCategory(att->atttypid) != TYPCATEGORY_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("mask \"%s\" applies to text columns, not to column \"%s\" of type %s",
						mask, NameStr(att->attname), format_type_be(att->atttypid))));
	return cast_to((Expr *) subject, TEXTOID, -1, mask);
}

#define SUBJECT_ATT(rel, subject) \
	TupleDescAttr(RelationGetDescr(rel), (subject)->varattno - 1)

static Expr *
build_null(const MeshPolicy *policy, Relation rel, Var *subject)
{
	Form_pg_attribute att = SUBJECT_ATT(rel, subject);

	return (Expr *) makeNullConst(att->atttypid, att->atttypmod, att->attcollation);
}

static Expr *
build_redact(const MeshPolicy *policy, Relation rel, Var *subject)
{
	return redact_const(policy, SUBJECT_ATT(rel, subject));
}

static Expr *
build_hash(const MeshPolicy *policy, Relation rel, Var *subject)
{
	Form_pg_attribute att = SUBJECT_ATT(rel, subject);
	Expr	   *as_text = text_mask_input(policy, att, subject);

	/* marked as a policy's call: mask_hash refuses any other */
	FuncExpr   *hash = call(mesh_funcs()->mask_hash, TEXTOID, list_make1(as_text),
							DEFAULT_COLLATION_OID);

	hash->funcformat = MESH_POLICY_CALL;
	return cast_to((Expr *) hash, att->atttypid, att->atttypmod, "hash");
}

static Expr *
build_email(const MeshPolicy *policy, Relation rel, Var *subject)
{
	Form_pg_attribute att = SUBJECT_ATT(rel, subject);
	Expr	   *as_text = text_mask_input(policy, att, subject);
	Expr	   *result = (Expr *) call(mesh_funcs()->mask_email, TEXTOID,
									   list_make1(as_text), DEFAULT_COLLATION_OID);

	return cast_to(result, att->atttypid, att->atttypmod, "email");
}

static Expr *
build_partial(const MeshPolicy *policy, Relation rel, Var *subject)
{
	Form_pg_attribute att = SUBJECT_ATT(rel, subject);
	Expr	   *as_text = text_mask_input(policy, att, subject);
	Expr	   *result;

	result = (Expr *) call(mesh_funcs()->mask_partial, TEXTOID,
						   list_make4(as_text,
									  makeConst(INT4OID, -1, InvalidOid, 4,
												Int32GetDatum(policy->keep_first), false, true),
									  makeConst(INT4OID, -1, InvalidOid, 4,
												Int32GetDatum(policy->keep_last), false, true),
									  makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
												CStringGetTextDatum(policy->fill), false, false)),
						   DEFAULT_COLLATION_OID);
	return cast_to(result, att->atttypid, att->atttypmod, "partial");
}

static Expr *
build_date(const MeshPolicy *policy, Relation rel, Var *subject)
{
	Form_pg_attribute att = SUBJECT_ATT(rel, subject);
	Oid			argtypes[2] = {att->atttypid, TEXTOID};
	Oid			fn = LookupFuncName(list_make2(makeString("meshpg"), makeString("mask_date")),
									2, argtypes, true);

	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("mask \"date\" applies to date and timestamp columns, not to column \"%s\" of type %s",
						NameStr(att->attname), format_type_be(att->atttypid))));
	return (Expr *) call(fn, att->atttypid,
						 list_make2(subject,
									makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
											  CStringGetTextDatum(policy->unit ? policy->unit : "year"),
											  false, false)),
						 InvalidOid);
}

/* round and bucket: a numeric column, by a step */
static Expr *
numeric_mask(const MeshPolicy *policy, Relation rel, Var *subject, Oid funcid)
{
	Form_pg_attribute att = SUBJECT_ATT(rel, subject);
	const char *mask = mesh_mask_name(policy->mask);
	Expr	   *as_numeric;
	Expr	   *result;

	if (TypeCategory(att->atttypid) != TYPCATEGORY_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("mask \"%s\" applies to numeric columns, not to column \"%s\" of type %s",
						mask, NameStr(att->attname), format_type_be(att->atttypid))));
	as_numeric = cast_to((Expr *) subject, NUMERICOID, -1, mask);
	result = (Expr *) call(funcid, NUMERICOID,
						   list_make2(as_numeric,
									  makeConst(NUMERICOID, -1, InvalidOid, -1,
												DirectFunctionCall3(numeric_in,
																	CStringGetDatum(policy->step ? policy->step : "1"),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)),
												false, false)),
						   InvalidOid);
	return cast_to(result, att->atttypid, att->atttypmod, mask);
}

static Expr *
build_round(const MeshPolicy *policy, Relation rel, Var *subject)
{
	return numeric_mask(policy, rel, subject, mesh_funcs()->mask_round);
}

static Expr *
build_bucket(const MeshPolicy *policy, Relation rel, Var *subject)
{
	return numeric_mask(policy, rel, subject, mesh_funcs()->mask_bucket);
}

static Expr *
build_custom(const MeshPolicy *policy, Relation rel, Var *subject)
{
	Node	   *expr = copyObject(policy->expr);

	if (subject->varno != 1)
		ChangeVarNodes(expr, 1, subject->varno, 0);
	return (Expr *) expr;
}

/*
 * The masks, one row each: the one table that the compiler (build), the
 * validator (registry/policy.c: the name, the argument keys, whether it
 * takes an expression), explain_access and descriptors (the name) read.
 * Listed in the order users see them (the hint for an unknown mask); the
 * kind orders them by restrictiveness (policy.h).
 *
 * Adding a mask: its kind in MeshMaskKind, at its place in the order of
 * restrictiveness; a row here and its build function; its SQL function, if
 * it has one; and, in the next upgrade script, the CHECK on the mask column
 * of meshpg.cat_policy (shipped scripts are frozen).
 */
static const MeshMaskInfo mesh_masks[] = {
	{"null", MASK_NULL, {NULL}, false, build_null},
	{"redact", MASK_REDACT, {"value", NULL}, false, build_redact},
	{"hash", MASK_HASH, {NULL}, false, build_hash},
	{"email", MASK_EMAIL, {NULL}, false, build_email},
	{"partial", MASK_PARTIAL, {"keep_first", "keep_last", "fill", NULL}, false, build_partial},
	{"date", MASK_DATE, {"unit", NULL}, false, build_date},
	{"bucket", MASK_BUCKET, {"width", NULL}, false, build_bucket},
	{"round", MASK_ROUND, {"step", NULL}, false, build_round},
	{"custom", MASK_CUSTOM, {NULL}, true, build_custom},
};

/*
 * The kinds of policy, one row each: the one table that the loader (the
 * kind of a catalog row), the validator (registry/policy.c: the option
 * keys), explain_access and descriptors read.  Masks have their own table
 * for their arguments (above).
 *
 * Adding a kind: its value in MeshPolicyKind, a row here, what the
 * compiler gives the reader for it (build_rules), and, in the next upgrade
 * script, the CHECKs on meshpg.cat_policy's kind (shipped scripts are
 * frozen).
 */
static const MeshPolicyKindInfo mesh_policy_kinds[] = {
	{"mask", POLICY_MASK, true, {NULL}},
	{"row", POLICY_ROW, false, {NULL}},
	{"projection", POLICY_PROJECTION, true, {NULL}},
	{"aggregation", POLICY_AGGREGATION, false, {"min_group_size", "entity_key", "aggregates", NULL}},
	{"privacy", POLICY_PRIVACY, false, {"entity_key", "epsilon", "delta", "max_contributions", "bounds",
										   "budget_epsilon", "budget_delta", "budget_window", NULL}},
};

const MeshPolicyKindInfo *
mesh_policy_kind_info(const char *name)
{
	for (int i = 0; i < (int) lengthof(mesh_policy_kinds); i++)
		if (strcmp(mesh_policy_kinds[i].name, name) == 0)
			return &mesh_policy_kinds[i];
	return NULL;
}

const MeshPolicyKindInfo *
mesh_policy_kind_info_of(MeshPolicyKind kind)
{
	for (int i = 0; i < (int) lengthof(mesh_policy_kinds); i++)
		if (mesh_policy_kinds[i].kind == kind)
			return &mesh_policy_kinds[i];
	return NULL;
}

/* The aggregates' names in an aggregation policy's "aggregates" option. */
static const struct
{
	const char *name;
	uint32		flag;
}			mesh_agg_names[] = {
	{"count", MESH_AGG_COUNT},
	{"count_distinct", MESH_AGG_COUNT_DISTINCT},
	{"sum", MESH_AGG_SUM},
	{"avg", MESH_AGG_AVG},
	{"min", MESH_AGG_MIN},
	{"max", MESH_AGG_MAX},
};

/* The flag of an aggregate's name; 0 for none. */
uint32
mesh_agg_flag(const char *name)
{
	for (int i = 0; i < (int) lengthof(mesh_agg_names); i++)
		if (strcmp(mesh_agg_names[i].name, name) == 0)
			return mesh_agg_names[i].flag;
	return 0;
}

/* "count, sum and avg": the names of flags, for messages and explain_access. */
const char *
mesh_agg_flag_names(uint32 flags)
{
	StringInfoData out;
	int			n = 0;
	int			i = 0;

	for (int k = 0; k < (int) lengthof(mesh_agg_names); k++)
		n += (flags & mesh_agg_names[k].flag) != 0;
	initStringInfo(&out);
	if (n == 0)
		appendStringInfoString(&out, "none");
	for (int k = 0; k < (int) lengthof(mesh_agg_names); k++)
		if (flags & mesh_agg_names[k].flag)
		{
			appendStringInfo(&out, "%s%s", i == 0 ? "" : (i == n - 1 ? " and " : ", "),
							 mesh_agg_names[k].name);
			i++;
		}
	return out.data;
}

/* The mask named name, or NULL. */
const MeshMaskInfo *
mesh_mask_info(const char *name)
{
	for (int i = 0; i < (int) lengthof(mesh_masks); i++)
		if (strcmp(mesh_masks[i].name, name) == 0)
			return &mesh_masks[i];
	return NULL;
}

/* The mask of kind, or NULL (MASK_NONE). */
const MeshMaskInfo *
mesh_mask_info_of(MeshMaskKind kind)
{
	for (int i = 0; i < (int) lengthof(mesh_masks); i++)
		if (mesh_masks[i].kind == kind)
			return &mesh_masks[i];
	return NULL;
}

/* The mask named name; an error naming every mask if there is none. */
const MeshMaskInfo *
mesh_mask_require(const char *name)
{
	const MeshMaskInfo *info = mesh_mask_info(name);

	if (info == NULL)
	{
		StringInfoData all;

		initStringInfo(&all);
		for (int i = 0; i < (int) lengthof(mesh_masks); i++)
			appendStringInfo(&all, "%s%s",
							 i == 0 ? "" : i == (int) lengthof(mesh_masks) - 1 ? " and " : ", ",
							 mesh_masks[i].name);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown mask \"%s\"", name),
				 errhint("Masks are %s.", all.data)));
	}
	return info;
}

/* The expression that replaces subject for a reader the mask applies to. */
Expr *
mesh_mask_expr(const MeshPolicy *policy, Relation rel, Var *subject)
{
	const MeshMaskInfo *info = mesh_mask_info_of(policy->mask);

	if (info == NULL)
		elog(ERROR, "unexpected mask kind %d", policy->mask);
	/* meshpg's functions resolved first, whatever the mask (as always) */
	(void) mesh_funcs();
	return info->build(policy, rel, subject);
}

/*
 * Compiled rules, cached on the product entry per reader identity: queries
 * come from few (current user, outer user, view owner, purpose) keys, and compiling
 * costs more than copying.  The product cache drops them with every catalog
 * change and every change to the relation; a role or membership change
 * bumps the membership generation they carry.
 */
typedef struct CompiledRules
{
	Oid			current;
	Oid			outer;
	Oid			via;
	char	   *purpose;
	uint64		membership;
	MeshRules	rules;			/* Vars at range-table index 1 */
} CompiledRules;

#define MAX_COMPILED_PER_PRODUCT 8

/* A copy of src whose Vars carry rtindex, in the current memory context. */
static void
copy_rules(const MeshRules *src, int rtindex, MeshRules *dst)
{
	dst->natts = src->natts;
	dst->masks = palloc0(sizeof(Expr *) * (src->natts + 1));
	dst->mask_kinds = palloc0(sizeof(MeshMaskKind) * (src->natts + 1));
	memcpy(dst->mask_kinds, src->mask_kinds, sizeof(MeshMaskKind) * src->natts);
	for (int i = 0; i < src->natts; i++)
		if (src->masks[i] != NULL)
		{
			dst->masks[i] = copyObject(src->masks[i]);
			if (rtindex != 1)
				ChangeVarNodes((Node *) dst->masks[i], 1, rtindex, 0);
		}
	dst->quals = copyObject(src->quals);
	if (rtindex != 1)
		ChangeVarNodes((Node *) dst->quals, 1, rtindex, 0);
	dst->any = src->any;
	dst->valid_until = src->valid_until;
	dst->npolicies = src->npolicies;
	dst->policies = palloc(sizeof(int64) * (src->npolicies + 1));
	dst->policy_attnos = palloc(sizeof(AttrNumber) * (src->npolicies + 1));
	memcpy(dst->policies, src->policies, sizeof(int64) * src->npolicies);
	memcpy(dst->policy_attnos, src->policy_attnos, sizeof(AttrNumber) * src->npolicies);
	dst->projected = NULL;
	if (src->projected != NULL)
	{
		dst->projected = palloc0(sizeof(char *) * (src->natts + 1));
		for (int i = 0; i < src->natts; i++)
			if (src->projected[i] != NULL)
				dst->projected[i] = pstrdup(src->projected[i]);
	}
	dst->agg_rules = NIL;
	foreach_ptr(MeshAggRule, rule, src->agg_rules)
	{
		MeshAggRule *copy = palloc(sizeof(MeshAggRule));

		*copy = *rule;
		copy->policy_name = pstrdup(rule->policy_name);
		copy->options = rule->options ? (Jsonb *) pg_detoast_datum_copy((struct varlena *) rule->options) : NULL;
		dst->agg_rules = lappend(dst->agg_rules, copy);
	}
	dst->spec_key = src->spec_key;
	dst->spec_ok = src->spec_ok;
}

/*
 * Functions a specialisation's filter and masks may call for meshpg's
 * worker to evaluate them apart from any reader (governed statistics):
 * PostgreSQL's own and meshpg's.  A team's function would run there as
 * the catalog owner, so anything else is left to the reader's query.
 */
bool
mesh_spec_function_ok(Oid funcid)
{
	const MeshCatalog *cat = mesh_catalog();

	if (funcid < FirstGenbkiObjectId)
		return true;
	return cat != NULL && get_func_namespace(funcid) == cat->nsp;
}

static bool
spec_function_refused(Oid funcid, void *context)
{
	return !mesh_spec_function_ok(funcid);
}

static bool
spec_expr_refused_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink) || IsA(node, Query) || IsA(node, Param))
		return true;
	if (check_functions_in_node(node, spec_function_refused, context))
		return true;
	return expression_tree_walker(node, spec_expr_refused_walker, context);
}

/*
 * The specialisation of compiled rules (Vars at index 1): a hash of the
 * filter and of each mask, and whether the filter can be evaluated apart
 * from the reader (no subquery, only immutable functions of PostgreSQL and
 * meshpg).  The expressions are already specialised for the reader
 * (attributes, purpose and current_user are constants), so equal hashes
 * mean the same rows and the same masked values.
 */
static void
set_spec_key(MeshRules *rules)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, nodeToString(rules->quals));
	for (int i = 0; i < rules->natts; i++)
		if (rules->masks[i] != NULL)
			appendStringInfo(&buf, "|%d:%s", i + 1, nodeToString(rules->masks[i]));
	rules->spec_key = hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0x6d657368);
	pfree(buf.data);
	rules->spec_ok = !contain_mutable_functions((Node *) rules->quals) &&
		!spec_expr_refused_walker((Node *) rules->quals, NULL);

	/*
	 * A reader held to aggregates of large groups (aggregation, privacy)
	 * may not learn single values, which most common values and histogram
	 * bounds are; nor the values of a column it may only filter on
	 * (projection).  Its statistics stay withheld.
	 */
	if (rules->agg_rules != NIL)
		rules->spec_ok = false;
	for (int i = 0; rules->projected != NULL && i < rules->natts; i++)
		if (rules->projected[i] != NULL)
			rules->spec_ok = false;
}

/* Records that policy applies (once), for the access history. */
static void
note_applied(MeshRules *rules, const MeshPolicy *policy, AttrNumber attno)
{
	for (int i = 0; i < rules->npolicies; i++)
		if (rules->policies[i] == policy->id && rules->policy_attnos[i] == attno)
			return;
	rules->policies[rules->npolicies] = policy->id;
	rules->policy_attnos[rules->npolicies] = attno;
	rules->npolicies++;
}

/*
 * Compiles the rules for roles, with Vars at index 1.  *cacheable is false
 * when a mask's constant was read under session settings (a redacted date
 * depends on DateStyle and TimeZone).
 */
static void
build_rules(const MeshProduct *product, Oid relid, int natts, List *roles,
			MeshRules *rules, bool *cacheable)
{
	ListCell   *lc;
	Relation	rel = NULL;
	int64	   *winning = palloc0(sizeof(int64) * (natts + 1));
	int			maxpol = list_length(product->policies) + natts + 1;

	memset(rules, 0, sizeof(MeshRules));
	rules->natts = natts;
	rules->masks = palloc0(sizeof(Expr *) * (natts + 1));
	rules->mask_kinds = palloc0(sizeof(MeshMaskKind) * (natts + 1));
	rules->policies = palloc(sizeof(int64) * maxpol);
	rules->policy_attnos = palloc(sizeof(AttrNumber) * maxpol);
	*cacheable = true;
	purpose_valid_until = DT_NOEND;

	foreach(lc, product->policies)
	{
		MeshPolicy *policy = lfirst(lc);
		ListCell   *rc;

		foreach(rc, roles)
		{
			Oid			role = lfirst_oid(rc);
			const char *why;

			if (mesh_policy_exempt(product, policy, role, &why))
				continue;
			if (policy->kind == POLICY_PROJECTION)
			{
				if (policy->subject <= natts)
				{
					if (rules->projected == NULL)
						rules->projected = palloc0(sizeof(char *) * (natts + 1));
					if (rules->projected[policy->subject - 1] == NULL)
						rules->projected[policy->subject - 1] = pstrdup(policy->name);
					note_applied(rules, policy, policy->subject);
				}
				continue;
			}
			if (policy->kind == POLICY_AGGREGATION || policy->kind == POLICY_PRIVACY)
			{
				bool		seen = false;

				foreach_ptr(MeshAggRule, r, rules->agg_rules)
					seen |= r->policy_id == policy->id;
				if (!seen)
				{
					MeshAggRule *rule = palloc0(sizeof(MeshAggRule));

					rule->kind = policy->kind;
					rule->policy_id = policy->id;
					rule->policy_name = pstrdup(policy->name);
					rule->min_group_size = policy->min_group_size;
					rule->entity_key = policy->entity_key;
					rule->aggregates = policy->aggregates;
					rule->options = policy->options;
					rules->agg_rules = lappend(rules->agg_rules, rule);
					note_applied(rules, policy, 0);
				}
				continue;
			}
			if (policy->is_row)
			{
				rules->quals = lappend(rules->quals,
									   mesh_instantiate_filter(product, policy, role));
				note_applied(rules, policy, 0);
			}
			else if (policy->subject <= natts &&
					 policy->mask > rules->mask_kinds[policy->subject - 1])
			{
				Form_pg_attribute att;
				Var		   *subject;

				if (rel == NULL)
					rel = relation_open(relid, NoLock);
				att = TupleDescAttr(RelationGetDescr(rel), policy->subject - 1);
				subject = makeVar(1, policy->subject, att->atttypid, att->atttypmod,
								  att->attcollation, 0);
				rules->masks[policy->subject - 1] = mesh_mask_expr(policy, rel, subject);

				/*
				 * A custom mask may ask who reads, as a row policy may:
				 * meshpg.purpose(), meshpg.attribute(), current_user.  Left
				 * to run, they would answer for the session (a purpose
				 * granted on another product) or for a SECURITY DEFINER
				 * function's owner: specialised for the role, as filters are.
				 */
				if (policy->mask == MASK_CUSTOM)
					rules->masks[policy->subject - 1] =
						(Expr *) mesh_instantiate_filter(product, policy, role);
				rules->mask_kinds[policy->subject - 1] = policy->mask;
				winning[policy->subject - 1] = policy->id;
				if (policy->mask == MASK_REDACT &&
					TypeCategory(att->atttypid) == TYPCATEGORY_DATETIME)
					*cacheable = false;
			}
			else if (policy->mask == MASK_CUSTOM && policy->subject <= natts &&
					 winning[policy->subject - 1] == policy->id &&
					 !equal(rules->masks[policy->subject - 1],
							mesh_instantiate_filter(product, policy, role)))
			{
				/*
				 * The same custom mask applies to two of the roles (reader
				 * and outer user, or view owner) and says different things
				 * for each: no one expression holds for both, so the
				 * column is hidden, as by the null mask.
				 */
				Form_pg_attribute att;

				if (rel == NULL)
					rel = relation_open(relid, NoLock);
				att = TupleDescAttr(RelationGetDescr(rel), policy->subject - 1);
				rules->masks[policy->subject - 1] =
					(Expr *) makeNullConst(att->atttypid, att->atttypmod, att->attcollation);
			}
		}
	}
	if (rel != NULL)
		relation_close(rel, NoLock);
	for (int i = 0; i < natts; i++)
		if (rules->masks[i] != NULL)
		{
			MeshPolicy	mask = {.id = winning[i]};

			note_applied(rules, &mask, i + 1);
		}
	pfree(winning);

	rules->any = rules->quals != NIL || rules->projected != NULL || rules->agg_rules != NIL;
	for (int i = 0; i < natts && !rules->any; i++)
		rules->any = rules->masks[i] != NULL;
	rules->valid_until = purpose_valid_until;
	if (rules->any)
		set_spec_key(rules);
}

/*
 * Loads the policies governing relid into the product cache, once.  Loading
 * analyses their expressions, which also pins the functions they call to
 * the policies' search path (planner.c): a backend that runs a plan with
 * such a call must have loaded the policy first, parallel workers included.
 */
void
mesh_ensure_policies(const MeshProduct *product, Oid relid)
{
	MeshProduct *entry = (MeshProduct *) product;

	if (!entry->policies_loaded)
	{
		MemoryContext old = MemoryContextSwitchTo(mesh_product_cache_context());
		List	   *loaded = mesh_load_policies(product, relid);

		MemoryContextSwitchTo(old);
		entry->policies = loaded;
		entry->policies_loaded = true;
	}
}

/*
 * The rules one role would read relid under, alone in its session, without
 * a purpose (Vars at index 1, not cached): the specialisations the worker
 * computes statistics for (governance/statsets.c), and explain_access.
 */
bool
mesh_compile_rules_for_role(const MeshProduct *product, Oid relid, int natts, Oid role,
							MeshRules *rules)
{
	MeshProduct *entry = (MeshProduct *) product;

	memset(rules, 0, sizeof(MeshRules));
	rules->valid_until = DT_NOEND;
	if (superuser_arg(role))
		return false;
	mesh_ensure_policies(product, relid);
	if (entry->policies == NIL)
		return false;
	return mesh_compile_rules_from_policies(product, entry->policies, relid, natts,
											role, rules);
}

/*
 * The rules for one relation in one query: row filters to AND, and the most
 * restrictive applicable mask per column.  natts is the relation's (or the
 * view's) column count; rtindex the range-table index the Vars must carry.
 * via is the role whose privileges the read goes through (a view's or a
 * rule's owner), or InvalidOid: its grant let the read in, so its policies
 * bound what the read shows, as much as the reader's do.  Otherwise a
 * consumer could lend its grant, through a view, to a role whose policies
 * are looser, and that role would see rows and values neither may see
 * alone.  False when nothing applies to any of these roles.
 */
bool
mesh_compile_rules(const MeshProduct *product, Oid relid, int rtindex, int natts,
				   Oid via, MeshRules *rules)
{
	MeshProduct *entry = (MeshProduct *) product;
	List	   *roles = mesh_reader_roles();
	Oid			current = GetUserId();
	Oid			outer = GetOuterUserId();
	const char *purpose = mesh_session_purpose != NULL ? mesh_session_purpose : "";
	uint64		membership = mesh_membership_generation();
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	CompiledRules *compiled;
	MeshRules	built;
	bool		cacheable;
	ListCell   *lc;

	memset(rules, 0, sizeof(MeshRules));
	rules->valid_until = DT_NOEND;
	if (list_member_oid(roles, via))
		via = InvalidOid;
	if (OidIsValid(via))
		roles = lappend_oid(roles, via);

	/*
	 * Referential-integrity checks and cascades run as the owner of the
	 * table they read and return no rows to anyone.  As row security does
	 * (SECURITY_NOFORCE_RLS), they see every row: otherwise integrity itself
	 * would depend on who is writing.  Only the owner, though, exactly as
	 * core exempts only the owner: the flag stays set for everything a
	 * cascade runs on the referencing table (its triggers, its row-security
	 * policies, its defaults and generated columns), which is code of that
	 * table's owner, who may be any consumer.
	 */
	if (InNoForceRLSOperation() && pg_class_ownercheck(relid, current))
		return false;
	{
		bool		all_superusers = true;

		foreach(lc, roles)
			all_superusers &= superuser_arg(lfirst_oid(lc));
		if (all_superusers)
			return false;
	}
	mesh_ensure_policies(product, relid);
	if (entry->policies == NIL)
		return false;

	foreach(lc, entry->compiled)
	{
		compiled = lfirst(lc);
		if (compiled->current == current && compiled->outer == outer &&
			compiled->via == via && compiled->membership == membership && compiled->rules.natts == natts &&
			now < compiled->rules.valid_until && strcmp(compiled->purpose, purpose) == 0)
		{
			copy_rules(&compiled->rules, rtindex, rules);
			return rules->any;
		}
	}

	build_rules(product, relid, natts, roles, &built, &cacheable);

	/*
	 * Keep it only while the generation it was built under is current (a
	 * role change during the build makes it stale at once), dropping those
	 * of older generations and those past their grant's expiry; the
	 * product cache's reset frees them all.
	 */
	if (cacheable)
	{
		MemoryContext old = MemoryContextSwitchTo(mesh_product_cache_context());
		List	   *kept = NIL;

		foreach(lc, entry->compiled)
		{
			compiled = lfirst(lc);
			if (compiled->membership == membership && now < compiled->rules.valid_until)
				kept = lappend(kept, compiled);
		}
		if (list_length(kept) < MAX_COMPILED_PER_PRODUCT)
		{
			compiled = palloc0(sizeof(CompiledRules));
			compiled->current = current;
			compiled->outer = outer;
			compiled->via = via;
			compiled->purpose = pstrdup(purpose);
			compiled->membership = membership;
			copy_rules(&built, 1, &compiled->rules);
			kept = lappend(kept, compiled);
		}
		entry->compiled = kept;
		MemoryContextSwitchTo(old);
	}
	if (rtindex == 1)
		*rules = built;
	else
		copy_rules(&built, rtindex, rules);
	return rules->any;
}

/*
 * The rules of one role on relid, as a session without meshpg.purpose would
 * get them: for output ports (src/ports/), compiled once for the port's
 * consumer rather than per query.  policies are the product's policies as
 * loaded by mesh_load_policies (fresh: the caller may be inside the
 * transaction that changed them).  Not cached.
 */
bool
mesh_compile_rules_from_policies(const MeshProduct *product, List *policies, Oid relid,
							int natts, Oid role, MeshRules *rules)
{
	MeshProduct copy = *product;
	char	   *saved = mesh_session_purpose;
	bool		cacheable;

	copy.policies = policies;
	copy.policies_loaded = true;
	copy.compiled = NIL;
	mesh_session_purpose = NULL;
	PG_TRY();
	{
		build_rules(&copy, relid, natts, list_make1_oid(role), rules, &cacheable);
	}
	PG_FINALLY();
	{
		mesh_session_purpose = saved;
	}
	PG_END_TRY();
	return rules->any;
}
