/*
 * policy.c
 *		The governance surface: tags and their assignment to columns,
 *		consumer attributes, masking and row policies.
 *
 * The governance team defines tags, attributes and tag-bound policies;
 * a domain team tags its own columns and may bind policies to its own
 * products (policies only ever restrict, so a team cannot loosen anything
 * this way).  Every change is validated by compiling the affected policies
 * for the affected relations, in the same transaction: a policy that could
 * not be enforced is refused, never stored.  Then the affected products'
 * plans are invalidated in every backend.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "meshpg/governance/privacy.h"
#include "meshpg/policy/policy.h"
#include "meshpg/events/events.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_create_tag);
PG_FUNCTION_INFO_V1(meshpg_drop_tag);
PG_FUNCTION_INFO_V1(meshpg_tag_column);
PG_FUNCTION_INFO_V1(meshpg_untag_column);
PG_FUNCTION_INFO_V1(meshpg_set_attribute);
PG_FUNCTION_INFO_V1(meshpg_unset_attribute);
PG_FUNCTION_INFO_V1(meshpg_create_masking_policy);
PG_FUNCTION_INFO_V1(meshpg_create_row_policy);
PG_FUNCTION_INFO_V1(meshpg_drop_policy);
PG_FUNCTION_INFO_V1(meshpg_create_projection_policy);
PG_FUNCTION_INFO_V1(meshpg_create_aggregation_policy);
PG_FUNCTION_INFO_V1(meshpg_create_privacy_policy);


/* Tag names are dotted names, each part a name: pii.email, geo.region. */
static char *
normalize_tag(const char *input)
{
	char	   *copy = pstrdup(input);
	char	   *part;
	char	   *save;
	StringInfoData out;

	initStringInfo(&out);
	if (input[0] == '\0' || input[0] == '.' || input[strlen(input) - 1] == '.' ||
		strstr(input, "..") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid tag name \"%s\"", input),
				 errdetail("A tag name is one or more names separated by dots, such as pii.email.")));
	for (part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save))
	{
		char	   *norm = mesh_normalize_name(part, "tag", true);

		if (norm == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid tag name \"%s\"", input),
					 errdetail("Each part of a tag name starts with a letter and contains only letters, digits and underscores.")));
		appendStringInfo(&out, "%s%s", out.len ? "." : "", norm);
	}
	if (out.len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("tag name \"%s\" is too long", input)));
	return out.data;
}

int64
mesh_resolve_tag(const char *input, char **name)
{
	char	   *norm = normalize_tag(input);
	bool		isnull;

	mesh_spi_exec("SELECT id FROM meshpg.cat_tag WHERE name = $1", 1,
				  (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(norm)}, NULL);
	if (SPI_processed == 0)
	{
		/* the hint runs a query: before ereport, never inside it */
		char	   *hint = mesh_nearest_names_hint("SELECT name FROM meshpg.cat_tag ORDER BY 1", norm,
												   "Create it with meshpg.create_tag(name, description), or list the tags with SELECT name FROM meshpg.tags.");

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("tag \"%s\" does not exist", input),
				 errhint("%s", hint)));
	}
	if (name)
		*name = norm;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static bool
collect_functions_walker(Node *node, List **funcs)
{
	if (node == NULL)
		return false;
	/* nested queries recurse without nodeFuncs.c checking */
	check_stack_depth();
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, collect_functions_walker, funcs, 0);
	if (IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr))
		set_opfuncid((OpExpr *) node);
	else if (IsA(node, ScalarArrayOpExpr))
		set_sa_opfuncid((ScalarArrayOpExpr *) node);
	if (IsA(node, FuncExpr))
		*funcs = list_append_unique_oid(*funcs, ((FuncExpr *) node)->funcid);
	else if (IsA(node, OpExpr) || IsA(node, DistinctExpr) || IsA(node, NullIfExpr))
		*funcs = list_append_unique_oid(*funcs, ((OpExpr *) node)->opfuncid);
	else if (IsA(node, ScalarArrayOpExpr))
		*funcs = list_append_unique_oid(*funcs, ((ScalarArrayOpExpr *) node)->opfuncid);
	return expression_tree_walker(node, collect_functions_walker, funcs);
}

/*
 * Records the user functions a policy's expression calls (builtins and
 * meshpg's own cannot be dropped from under it), so that the DDL guard can
 * refuse to drop them.
 */
static void
record_function_dependencies(const MeshPolicy *policy)
{
	List	   *funcs = NIL;
	List	   *user_funcs = NIL;
	ListCell   *lc;
	Oid			meshpg_nsp = get_namespace_oid("meshpg", false);
	Datum	   *elems;
	int			n = 0;

	collect_functions_walker(policy->expr, &funcs);
	foreach(lc, funcs)
	{
		Oid			nsp = get_func_namespace(lfirst_oid(lc));

		if (nsp != PG_CATALOG_NAMESPACE && nsp != meshpg_nsp)
			user_funcs = lappend_oid(user_funcs, lfirst_oid(lc));
	}
	if (user_funcs == NIL)
		return;
	elems = palloc(sizeof(Datum) * list_length(user_funcs));
	foreach(lc, user_funcs)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	mesh_spi_exec("UPDATE meshpg.cat_policy "
				  "   SET depends_functions = ARRAY(SELECT DISTINCT f FROM "
				  "       unnest(depends_functions || $2) AS f ORDER BY 1) WHERE id = $1",
				  2, (Oid[]) {INT8OID, REGPROCEDUREARRAYOID},
				  (Datum[]) {Int64GetDatum(policy->id),
				  PointerGetDatum(construct_array(elems, n, REGPROCEDUREOID, sizeof(Oid),
												  true, TYPALIGN_INT))},
				  NULL);
}

/*
 * Compiles every policy of a product, for its relation, as a reader subject
 * to all of them would see it: an error here means the policy could not be
 * enforced, and the change that caused it is refused.
 */
static void
validate_product(Oid relid)
{
	const MeshProduct *product = mesh_product_by_relid(relid);
	List	   *policies;
	ListCell   *lc;
	Relation	rel;

	if (product == NULL)
		return;
	policies = mesh_load_policies(product, relid);
	rel = relation_open(relid, AccessShareLock);
	foreach(lc, policies)
	{
		MeshPolicy *policy = lfirst(lc);

		if (policy->expr != NULL)
			record_function_dependencies(policy);
		if (policy->is_row)
		{
			mesh_check_expr_sources(policy->expr);
			(void) mesh_instantiate_filter(product, policy, GetUserId());
		}
		else if (policy->kind == POLICY_PRIVACY)
		{
			MeshPrivacyRule rule = {0};

			/* the rewrite reads these at every plan: refuse them now */
			if (policy->entity_key <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("privacy policy \"%s\" needs a privacy unit column", policy->name),
						 errhint("Name the column that identifies a person (or another unit to protect): privacy_unit => 'customer_id'.")));
			mesh_privacy_parse_options(policy->options, relid, &rule);
		}
		else if (policy->kind == POLICY_MASK)
		{
			Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), policy->subject - 1);

			if (policy->expr)
				mesh_check_expr_sources(policy->expr);
			(void) mesh_mask_expr(policy, rel,
								  makeVar(1, policy->subject, att->atttypid, att->atttypmod,
										  att->attcollation, 0));
		}
	}
	relation_close(rel, AccessShareLock);
}

static void
validate_products(const char *query, int64 id)
{
	List	   *relids = NIL;
	ListCell   *lc;
	Datum		arg = Int64GetDatum(id);

	mesh_spi_exec(query, id != 0 ? 1 : 0, (Oid[]) {INT8OID}, &arg, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		relids = lappend_oid(relids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1,
																	&isnull)));
	}
	foreach(lc, relids)
		validate_product(lfirst_oid(lc));
}

/* meshpg.create_tag(name, description, allowed_values) */
Datum
meshpg_create_tag(PG_FUNCTION_ARGS)
{
	char	   *name = normalize_tag(mesh_arg_text(fcinfo, 0, "tag name"));
	char	   *description = mesh_arg_text_opt(fcinfo, 1);
	bool		allowed_null;
	Datum		allowed = mesh_arg_text_array(fcinfo, 2, "allowed_values", &allowed_null);
	MeshSpiState spi;
	Datum		args[3];
	char		nulls[3] = "   ";

	mesh_require_admin(GetUserId(), "create a tag");
	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_tag WHERE name = $1", 1, (Oid[]) {TEXTOID},
				  (Datum[]) {CStringGetTextDatum(name)}, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("tag \"%s\" already exists", name)));
	args[0] = CStringGetTextDatum(name);
	if (description == NULL || description[0] == '\0')
		nulls[1] = 'n';
	else
		args[1] = CStringGetTextDatum(description);
	if (allowed_null)
		nulls[2] = 'n';
	else
		args[2] = allowed;
	mesh_spi_exec("INSERT INTO meshpg.cat_tag (name, description, allowed_values) VALUES ($1, $2, $3)",
				  3, (Oid[]) {TEXTOID, TEXTOID, TEXTARRAYOID}, args, nulls);
	{
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "tag", name);
		mesh_event_emit("meshpg.tag.created", name, mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/* meshpg.drop_tag(name): only a tag no column and no policy uses. */
Datum
meshpg_drop_tag(PG_FUNCTION_ARGS)
{
	char	   *input = mesh_arg_text(fcinfo, 0, "tag name");
	MeshSpiState spi;
	int64		tag;
	char	   *name;

	mesh_require_admin(GetUserId(), "drop a tag");
	mesh_spi_begin(&spi);
	tag = mesh_resolve_tag(input, &name);
	mesh_spi_exec("SELECT (SELECT count(*) FROM meshpg.cat_column_tag WHERE tag_id = $1) "
				  "     + (SELECT count(*) FROM meshpg.cat_policy WHERE tag_id = $1)",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(tag)}, NULL);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "0") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop tag \"%s\" because columns or policies use it", name),
				 errhint("Untag the columns and drop the policies bound to the tag first.")));
	mesh_spi_exec("DELETE FROM meshpg.cat_tag WHERE id = $1", 1, (Oid[]) {INT8OID},
				  (Datum[]) {Int64GetDatum(tag)}, NULL);
	{
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "tag", name);
		mesh_event_emit("meshpg.tag.dropped", name, mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * Tags column of product (rights already checked, inside mesh_spi_begin):
 * the path meshpg.tag_column and an accepted classification suggestion
 * (classify/classify.c) share, so that both check the same things.
 */
void
mesh_tag_column_as(const MeshProductRow *product, const char *column, const char *tag_in,
				   const char *value, Oid userid)
{
	int64		tag;
	char	   *tag_name;
	bool		isnull;
	Datum		args[5];
	char		nulls[5] = "     ";

	if (get_attnum(product->relid, column) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of data product \"%s\" does not exist",
						column, product->qualname)));
	tag = mesh_resolve_tag(tag_in, &tag_name);

	mesh_spi_exec("SELECT allowed_values, $2 = ANY (allowed_values) FROM meshpg.cat_tag WHERE id = $1",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(tag), value ? CStringGetTextDatum(value) : (Datum) 0},
				  value ? NULL : " n");
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		bool		ok_null;
		bool		ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												   2, &ok_null));

		if (value == NULL || ok_null || !ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tag \"%s\" needs one of its allowed values, not %s%s%s", tag_name,
							value ? "\"" : "", value ? value : "none", value ? "\"" : ""),
					 errdetail("Allowed values: %s.",
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1))));
	}
	else if (value != NULL && value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tag value must not be empty")));

	args[0] = Int64GetDatum(product->id);
	args[1] = CStringGetTextDatum(column);
	args[2] = Int64GetDatum(tag);
	if (value == NULL)
		nulls[3] = 'n';
	else
		args[3] = CStringGetTextDatum(value);
	args[4] = CStringGetTextDatum(GetUserNameFromId(userid, false));
	mesh_spi_exec("INSERT INTO meshpg.cat_column_tag (product_id, column_name, tag_id, value, tagged_by) "
				  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (product_id, column_name, tag_id) "
				  "DO UPDATE SET value = EXCLUDED.value, tagged_by = EXCLUDED.tagged_by, tagged_at = now()",
				  5, (Oid[]) {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID}, args, nulls);

	/* The tag's policies must be enforceable on this column. */
	validate_product(product->relid);
	mesh_invalidate_products(PRODUCT_BY_ID, product->id);
	{
		StringInfoData d;

		/* the tag's value is the domain team's classification, not data */
		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "product", product->qualname);
		mesh_event_data_text(&d, "column", column);
		mesh_event_data_text(&d, "tag", tag_name);
		mesh_event_data_text(&d, "value", value);
		mesh_event_emit("meshpg.tag.set", product->qualname, mesh_event_data_end(&d));
	}
}

/* meshpg.tag_column(product, column_name, tag, value) */
Datum
meshpg_tag_column(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *column = mesh_arg_text(fcinfo, 1, "column name");
	char	   *tag_in = mesh_arg_text(fcinfo, 2, "tag");
	char	   *value = mesh_arg_text_opt(fcinfo, 3);
	MeshSpiState spi;
	MeshProductRow product;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_domain_member(spi.userid, &product.domain);
	mesh_tag_column_as(&product, column, tag_in, value, spi.userid);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.untag_column(product, column_name, tag) */
Datum
meshpg_untag_column(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *column = mesh_arg_text(fcinfo, 1, "column name");
	char	   *tag_in = mesh_arg_text(fcinfo, 2, "tag");
	MeshSpiState spi;
	MeshProductRow product;
	int64		tag;
	char	   *tag_name;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_domain_member(spi.userid, &product.domain);
	tag = mesh_resolve_tag(tag_in, &tag_name);
	mesh_spi_exec("DELETE FROM meshpg.cat_column_tag WHERE product_id = $1 AND column_name = $2 AND tag_id = $3",
				  3, (Oid[]) {INT8OID, TEXTOID, INT8OID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(column), Int64GetDatum(tag)},
				  NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("column \"%s\" of data product \"%s\" has no tag \"%s\"",
						column, product.qualname, tag_in)));
	mesh_invalidate_products(PRODUCT_BY_ID, product.id);
	{
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "product", product.qualname);
		mesh_event_data_text(&d, "column", column);
		mesh_event_data_text(&d, "tag", tag_name);
		mesh_event_emit("meshpg.tag.removed", product.qualname, mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg.attribute.changed: the role's new values (null: unset).  Read
 * only by the role and the governance team, as meshpg.attributes.
 */
static void
emit_attribute_changed(Oid role, const char *key, Datum values)
{
	StringInfoData d;
	char	   *rolename = GetUserNameFromId(role, false);

	mesh_event_data_start(&d);
	mesh_event_data_text(&d, "role", rolename);
	mesh_event_data_text(&d, "key", key);
	if (values == (Datum) 0)
		mesh_event_data_json(&d, "values", NULL);
	else
		mesh_event_data_json(&d, "values",
							 TextDatumGetCString(DirectFunctionCall1(array_to_json, values)));
	mesh_event_emit("meshpg.attribute.changed", rolename, mesh_event_data_end(&d));
}

/* meshpg.set_attribute(role, key, values) */
Datum
meshpg_set_attribute(PG_FUNCTION_ARGS)
{
	Oid			role = mesh_arg_role(fcinfo, 0, "role");
	char	   *key = mesh_arg_text(fcinfo, 1, "key");
	bool		values_null;
	Datum		values = mesh_arg_text_array(fcinfo, 2, "values", &values_null);
	MeshSpiState spi;

	mesh_require_admin(GetUserId(), "set consumer attributes");
	if (values_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("values must not be null"),
				 errhint("Use meshpg.unset_attribute() to remove an attribute.")));
	key = mesh_normalize_name(key, "attribute", false);
	mesh_spi_begin(&spi);
	mesh_spi_exec("INSERT INTO meshpg.cat_attribute (role, key, \"values\") VALUES ($1, $2, $3) "
				  "ON CONFLICT (role, key) DO UPDATE SET \"values\" = EXCLUDED.\"values\"",
				  3, (Oid[]) {REGROLEOID, TEXTOID, TEXTARRAYOID},
				  (Datum[]) {ObjectIdGetDatum(role), CStringGetTextDatum(key), values}, NULL);
	mesh_invalidate_products(ALL_PRODUCTS, 0);
	emit_attribute_changed(role, key, values);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.unset_attribute(role, key) */
Datum
meshpg_unset_attribute(PG_FUNCTION_ARGS)
{
	Oid			role = mesh_arg_role(fcinfo, 0, "role");
	char	   *key = mesh_arg_text(fcinfo, 1, "key");
	MeshSpiState spi;

	mesh_require_admin(GetUserId(), "unset consumer attributes");
	key = mesh_normalize_name(key, "attribute", false);
	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_attribute WHERE role::oid = $1 AND key = $2",
				  2, (Oid[]) {OIDOID, TEXTOID},
				  (Datum[]) {ObjectIdGetDatum(role), CStringGetTextDatum(key)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" has no attribute \"%s\"",
						GetUserNameFromId(role, false), key)));
	mesh_invalidate_products(ALL_PRODUCTS, 0);
	emit_attribute_changed(role, key, (Datum) 0);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

static void
bad_mask_arg(const char *mask, const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("argument \"%s\" of mask \"%s\" must be %s", key, mask, what)));
}

static bool
is_integer_text(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Values a mask can use: checked now, not at the first read. */
static void
check_mask_arg_values(const char *mask, Jsonb *args)
{
	static const char *const units[] = {"year", "quarter", "month", "week", "day", "hour"};
	JsonbValue	k;
	JsonbValue *v;
	const char *keys[] = {"keep_first", "keep_last", "fill", "unit", "step", "width"};

	for (int i = 0; i < (int) lengthof(keys); i++)
	{
		k.type = jbvString;
		k.val.string.val = (char *) keys[i];
		k.val.string.len = strlen(keys[i]);
		v = findJsonbValueFromContainer(&args->root, JB_FOBJECT, &k);
		if (v == NULL)
			continue;
		if (i <= 1)
		{
			char	   *text = v->type == jbvNumeric ?
				DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))) : NULL;

			if (!is_integer_text(text) || strlen(text) > 6)
				bad_mask_arg(mask, keys[i], "a non-negative integer below 1000000");
		}
		else if (i == 2)
		{
			if (v->type != jbvString || v->val.string.len == 0)
				bad_mask_arg(mask, keys[i], "a non-empty string");
		}
		else if (i == 3)
		{
			bool		ok = false;

			if (v->type == jbvString)
				for (int u = 0; u < (int) lengthof(units); u++)
					ok |= strlen(units[u]) == (size_t) v->val.string.len &&
						strncmp(units[u], v->val.string.val, v->val.string.len) == 0;
			if (!ok)
				bad_mask_arg(mask, keys[i], "one of year, quarter, month, week, day and hour");
		}
		else if (v->type != jbvNumeric ||
				 DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(v->val.numeric),
												   DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
			bad_mask_arg(mask, keys[i], "a positive number");
	}
}

/*
 * The argument keys each mask accepts (the masks' table, policy.h); also
 * checks a retention policy's mask (retention/retention.c).
 */
void
mesh_check_mask_args(const MeshMaskInfo *info, Jsonb *args)
{
	const char *mask = info->name;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (!JB_ROOT_IS_OBJECT(args))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("args must be a JSON object")));
	it = JsonbIteratorInit(&args->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		bool		known = false;
		char	   *key;

		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		if (tok != WJB_KEY || depth != 1)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (int k = 0; k < (int) lengthof(info->args) && info->args[k]; k++)
			known |= strcmp(info->args[k], key) == 0;
		if (!known)
		{
			StringInfoData hint;
			int			n = 0;

			initStringInfo(&hint);
			for (int k = 0; k < (int) lengthof(info->args) && info->args[k]; k++)
				n++;
			if (n == 0)
				appendStringInfo(&hint, "Mask \"%s\" takes no arguments: leave args out.", mask);
			else
			{
				int			i = 0;

				appendStringInfo(&hint, "Mask \"%s\" takes ", mask);
				for (int k = 0; k < (int) lengthof(info->args) && info->args[k]; k++, i++)
					appendStringInfo(&hint, "%s%s", i == 0 ? "" : (i == n - 1 ? " and " : ", "),
									 info->args[k]);
				appendStringInfoString(&hint, ".");
			}
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mask \"%s\" takes no argument \"%s\"", mask, key),
					 errhint("%s", hint.data)));
		}
	}
	check_mask_arg_values(mask, args);
}

static void
check_exempt_attributes(Jsonb *attrs)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (!JB_ROOT_IS_OBJECT(attrs))
		goto bad;
	it = JsonbIteratorInit(&attrs->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			if (++depth > 2)
				goto bad;
		}
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type != jbvString)
			goto bad;
	}
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("exempt_attributes must map attribute keys to a string or an array of strings"),
			 errhint("For example: {\"clearance\": [\"high\"]}.")));
}

/* The hash mask's key: created once, 32 random bytes. */
static void
ensure_hash_key(void)
{
	bytea	   *key = palloc(VARHDRSZ + 32);

	SET_VARSIZE(key, VARHDRSZ + 32);
	if (!pg_strong_random(VARDATA(key), 32))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random hash key")));
	/*
	 * No ON CONFLICT: cat_secret is a user_catalog_table (output ports'
	 * plugin reads the key under its historic snapshot), which refuses it.
	 * The lock makes concurrent first hash policies wait, then see the key.
	 */
	mesh_spi_exec("LOCK TABLE meshpg.cat_secret IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL);
	mesh_spi_exec("INSERT INTO meshpg.cat_secret (id, hmac_key) SELECT 1, $1 "
				  " WHERE NOT EXISTS (SELECT 1 FROM meshpg.cat_secret)",
				  1, (Oid[]) {BYTEAOID}, (Datum[]) {PointerGetDatum(key)}, NULL);
}

/*
 * Shared by both kinds: validates the binding and the exemptions, checks the
 * caller's rights, inserts the row, validates by compiling, invalidates.
 * Argument positions differ per function; the caller passes them.
 */
typedef struct PolicyArgs
{
	char	   *name;
	const char *kind;
	char	   *mask;
	char	   *tag;
	char	   *product;
	char	   *column;
	Datum		args;
	char	   *expression;
	Datum		exempt_roles;
	Datum		exempt_attributes;
	Datum		exempt_purposes;
	bool		applies_to_domain;
	char	   *description;
} PolicyArgs;

static void
create_policy(PolicyArgs *a)
{
	MeshSpiState spi;
	MeshProductRow product;
	int64		tag = 0;
	char	   *tag_name = NULL;
	Datum		values[14];
	char		nulls[14] = "              ";
	Oid			types[14] = {TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID, JSONBOID,
	TEXTOID, REGROLEARRAYOID, JSONBOID, TEXTARRAYOID, BOOLOID, TEXTOID, TEXTOID};

	a->name = mesh_normalize_name(a->name, "policy", false);
	if ((a->tag == NULL) == (a->product == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy \"%s\" must be bound to a tag or to a product, not %s",
						a->name, a->tag ? "both" : "neither")));
	if (strcmp(a->kind, "mask") == 0 && a->product != NULL && a->column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a masking policy bound to a product needs column_name")));
	if (strcmp(a->kind, "projection") == 0 && a->product != NULL && a->column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a projection policy bound to a product needs column_name"),
				 errhint("Name the column that may be filtered on but not returned, or bind the policy to a tag.")));
	if (a->tag != NULL && a->column != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a policy bound to a tag applies to the tagged columns; column_name is not allowed")));
	check_exempt_attributes(DatumGetJsonbP(a->exempt_attributes));
	if (a->tag != NULL)
		mesh_require_admin(GetUserId(), "create a policy bound to a tag");

	mesh_spi_begin(&spi);
	if (a->tag != NULL)
		tag = mesh_resolve_tag(a->tag, &tag_name);
	else
	{
		mesh_resolve_product(a->product, true, &product);
		mesh_require_admin_or_member(spi.userid, &product.domain);
		if (a->column != NULL && get_attnum(product.relid, a->column) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of data product \"%s\" does not exist",
							a->column, product.qualname)));
	}

	mesh_spi_exec("SELECT 1 FROM meshpg.cat_policy WHERE name = $1", 1, (Oid[]) {TEXTOID},
				  (Datum[]) {CStringGetTextDatum(a->name)}, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("policy \"%s\" already exists", a->name)));

	/* Product-bound expressions are stored in canonical, qualified form. */
	if (a->expression != NULL && a->product != NULL)
	{
		Relation	rel = relation_open(product.relid, AccessShareLock);
		AttrNumber	subject = a->column ? get_attnum(product.relid, a->column) : 0;
		Form_pg_attribute att = subject > 0 ? TupleDescAttr(RelationGetDescr(rel), subject - 1) : NULL;
		Node	   *expr = mesh_analyze_expr(a->expression, rel, subject,
											 strcmp(a->kind, "row") == 0,
											 att ? att->atttypid : InvalidOid,
											 att ? att->atttypmod : -1, false);

		mesh_check_expr_sources(expr);
		a->expression = mesh_deparse_expr(expr, rel);
		relation_close(rel, AccessShareLock);
	}
	if (a->mask != NULL && strcmp(a->mask, "hash") == 0)
		ensure_hash_key();

	values[0] = CStringGetTextDatum(a->name);
	values[1] = CStringGetTextDatum(a->kind);
	values[2] = Int64GetDatum(tag);
	if (a->tag == NULL)
		nulls[2] = 'n';
	if (a->product != NULL)
		values[3] = Int64GetDatum(product.id);
	else
		nulls[3] = 'n';
	if (a->column)
		values[4] = CStringGetTextDatum(a->column);
	else
		nulls[4] = 'n';
	if (a->mask)
		values[5] = CStringGetTextDatum(a->mask);
	else
		nulls[5] = 'n';
	values[6] = a->args;
	if (a->expression)
		values[7] = CStringGetTextDatum(a->expression);
	else
		nulls[7] = 'n';
	values[8] = a->exempt_roles;
	values[9] = a->exempt_attributes;
	values[10] = a->exempt_purposes;
	values[11] = BoolGetDatum(a->applies_to_domain);
	if (a->description && a->description[0])
		values[12] = CStringGetTextDatum(a->description);
	else
		nulls[12] = 'n';
	values[13] = CStringGetTextDatum(GetUserNameFromId(spi.userid, false));
	mesh_spi_exec("INSERT INTO meshpg.cat_policy (name, kind, tag_id, product_id, column_name, mask, "
				  "  mask_args, expression, exempt_roles, exempt_attributes, exempt_purposes, "
				  "  applies_to_domain, description, created_by) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
				  14, types, values, nulls);

	if (a->product != NULL)
	{
		validate_products(PRODUCT_BY_ID, product.id);
		mesh_invalidate_products(PRODUCT_BY_ID, product.id);
	}
	else
	{
		validate_products(PRODUCTS_WITH_TAG, tag);
		mesh_invalidate_products(PRODUCTS_WITH_TAG, tag);
	}
	{
		StringInfoData d;
		char	   *previous;

		/* dropped and created again in one transaction: changed */
		previous = mesh_event_retract("meshpg.policy.dropped", a->name);
		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "policy", a->name);
		mesh_event_data_text(&d, "kind", a->kind);
		mesh_event_data_text(&d, "mask", a->mask);
		mesh_event_data_text(&d, "tag", tag_name);
		mesh_event_data_text(&d, "product", a->product ? product.qualname : NULL);
		mesh_event_data_text(&d, "column", a->column);
		if (previous != NULL)
			mesh_event_data_json(&d, "previous", previous);
		mesh_event_emit(previous ? "meshpg.policy.changed" : "meshpg.policy.created", a->name,
						mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
}

static void
exemptions(FunctionCallInfo fcinfo, int first, PolicyArgs *a)
{
	bool		isnull;

	a->exempt_roles = PG_ARGISNULL(first) ?
		PointerGetDatum(construct_empty_array(REGROLEOID)) : PG_GETARG_DATUM(first);
	if (!PG_ARGISNULL(first) && array_contains_nulls(PG_GETARG_ARRAYTYPE_P(first)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("exempt_roles must not contain nulls")));
	a->exempt_attributes = PG_ARGISNULL(first + 1) ?
		DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : PG_GETARG_DATUM(first + 1);
	a->exempt_purposes = mesh_arg_text_array(fcinfo, first + 2, "exempt_purposes", &isnull);
	if (isnull)
		a->exempt_purposes = PointerGetDatum(construct_empty_array(TEXTOID));
	a->applies_to_domain = mesh_arg_bool(fcinfo, first + 3, "applies_to_domain");
	a->description = mesh_arg_text_opt(fcinfo, first + 4);
}

/*
 * meshpg.create_masking_policy(name, mask, tag, product, column_name, args,
 * expression, exempt_roles, exempt_attributes, exempt_purposes,
 * applies_to_domain, description)
 */
Datum
meshpg_create_masking_policy(PG_FUNCTION_ARGS)
{
	PolicyArgs	a = {0};
	const MeshMaskInfo *info;

	a.name = mesh_arg_text(fcinfo, 0, "policy name");
	a.kind = "mask";
	a.mask = mesh_arg_text(fcinfo, 1, "mask");
	info = mesh_mask_require(a.mask);
	a.tag = mesh_arg_text_opt(fcinfo, 2);
	a.product = mesh_arg_text_opt(fcinfo, 3);
	a.column = mesh_arg_text_opt(fcinfo, 4);
	a.args = PG_ARGISNULL(5) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))
		: PG_GETARG_DATUM(5);
	mesh_check_mask_args(info, DatumGetJsonbP(a.args));
	a.expression = mesh_arg_text_opt(fcinfo, 6);
	if (info->expression != (a.expression != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(a.expression ? "only the custom mask takes an expression"
						: "the custom mask needs an expression of value")));
	exemptions(fcinfo, 7, &a);
	create_policy(&a);
	PG_RETURN_VOID();
}

/*
 * meshpg.create_row_policy(name, expression, tag, product, exempt_roles,
 * exempt_attributes, exempt_purposes, applies_to_domain, description)
 */
Datum
meshpg_create_row_policy(PG_FUNCTION_ARGS)
{
	PolicyArgs	a = {0};

	a.name = mesh_arg_text(fcinfo, 0, "policy name");
	a.kind = "row";
	a.expression = mesh_arg_text(fcinfo, 1, "expression");
	a.tag = mesh_arg_text_opt(fcinfo, 2);
	a.product = mesh_arg_text_opt(fcinfo, 3);
	a.args = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	exemptions(fcinfo, 4, &a);
	create_policy(&a);
	PG_RETURN_VOID();
}

/* meshpg.drop_policy(name) */
Datum
meshpg_drop_policy(PG_FUNCTION_ARGS)
{
	char	   *input = mesh_arg_text(fcinfo, 0, "policy name");
	char	   *name = mesh_normalize_name(input, "policy", true);
	MeshSpiState spi;
	bool		tag_null;
	bool		product_null;
	int64		tag;
	int64		product_id;
	StringInfoData event;

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT tag_id, product_id, d.owner::oid, d.name, "
				  "       pol.kind, pol.mask, t.name, d.name || '.' || p.name, pol.column_name "
				  "  FROM meshpg.cat_policy pol LEFT JOIN meshpg.cat_product p ON p.id = pol.product_id "
				  "  LEFT JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  "  LEFT JOIN meshpg.cat_tag t ON t.id = pol.tag_id WHERE pol.name = $1 FOR UPDATE OF pol",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name ? name : "")}, NULL);
	if (name == NULL || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("policy \"%s\" does not exist", input)));
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		mesh_event_data_start(&event);
		mesh_event_data_text(&event, "policy", name);
		mesh_event_data_text(&event, "kind", SPI_getvalue(tup, desc, 5));
		mesh_event_data_text(&event, "mask", SPI_getvalue(tup, desc, 6));
		mesh_event_data_text(&event, "tag", SPI_getvalue(tup, desc, 7));
		mesh_event_data_text(&event, "product", SPI_getvalue(tup, desc, 8));
		mesh_event_data_text(&event, "column", SPI_getvalue(tup, desc, 9));
	}
	tag = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &tag_null));
	product_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &product_null));
	if (tag_null)
	{
		MeshDomain	domain;
		bool		isnull;

		domain.owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		domain.name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
		mesh_require_admin_or_member(spi.userid, &domain);
	}
	else
		mesh_require_admin(spi.userid, "drop a policy bound to a tag");

	/* Invalidate before the row goes: the queries need it. */
	if (tag_null)
		mesh_invalidate_products(PRODUCT_BY_ID, product_id);
	else
		mesh_invalidate_products(PRODUCTS_WITH_TAG, tag);
	mesh_spi_exec("DELETE FROM meshpg.cat_policy WHERE name = $1", 1, (Oid[]) {TEXTOID},
				  (Datum[]) {CStringGetTextDatum(name)}, NULL);
	mesh_event_emit("meshpg.policy.dropped", name, mesh_event_data_end(&event));
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg.create_projection_policy(name, tag, product, column_name,
 * exempt_roles, exempt_attributes, exempt_purposes, applies_to_domain,
 * description): the column may be used in predicates (WHERE, JOIN ON,
 * HAVING) but never returned (governance/aggregate.c).
 */
Datum
meshpg_create_projection_policy(PG_FUNCTION_ARGS)
{
	PolicyArgs	a = {0};

	a.name = mesh_arg_text(fcinfo, 0, "policy name");
	a.kind = "projection";
	a.tag = mesh_arg_text_opt(fcinfo, 1);
	a.product = mesh_arg_text_opt(fcinfo, 2);
	a.column = mesh_arg_text_opt(fcinfo, 3);
	a.args = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	exemptions(fcinfo, 4, &a);
	create_policy(&a);
	PG_RETURN_VOID();
}

/*
 * meshpg.create_aggregation_policy(name, min_group_size, tag, product,
 * entity_key, aggregates, exempt_roles, exempt_attributes, exempt_purposes,
 * applies_to_domain, description): the product may be read only through
 * the allowed aggregates, in groups of at least min_group_size rows (or
 * distinct entity keys).  The options are stored as the policy's args.
 */
Datum
meshpg_create_aggregation_policy(PG_FUNCTION_ARGS)
{
	PolicyArgs	a = {0};
	int32		size;
	char	   *entity_key;
	bool		aggs_null;
	Datum		aggs;
	JsonbParseState *state = NULL;
	JsonbValue	v;

	a.name = mesh_arg_text(fcinfo, 0, "policy name");
	a.kind = "aggregation";
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("min_group_size must not be null")));
	size = PG_GETARG_INT32(1);
	if (size < 1 || size > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_group_size must be between 1 and 1000000, not %d", size)));
	a.tag = mesh_arg_text_opt(fcinfo, 2);
	a.product = mesh_arg_text_opt(fcinfo, 3);
	entity_key = mesh_arg_text_opt(fcinfo, 4);
	aggs = mesh_arg_text_array(fcinfo, 5, "aggregates", &aggs_null);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	v.type = jbvString;
	v.val.string.val = "min_group_size";
	v.val.string.len = strlen(v.val.string.val);
	pushJsonbValue(&state, WJB_KEY, &v);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(size)));
	pushJsonbValue(&state, WJB_VALUE, &v);
	if (entity_key != NULL)
	{
		v.type = jbvString;
		v.val.string.val = "entity_key";
		v.val.string.len = strlen(v.val.string.val);
		pushJsonbValue(&state, WJB_KEY, &v);
		v.val.string.val = entity_key;
		v.val.string.len = strlen(entity_key);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	if (!aggs_null)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		v.type = jbvString;
		v.val.string.val = "aggregates";
		v.val.string.len = strlen(v.val.string.val);
		pushJsonbValue(&state, WJB_KEY, &v);
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		deconstruct_array(DatumGetArrayTypeP(aggs), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("aggregates must name at least one aggregate"),
					 errhint("Aggregates are count, count_distinct, sum, avg, min and max; leave the argument out for count, count_distinct, sum and avg.")));
		for (int i = 0; i < n; i++)
		{
			char	   *name = nulls[i] ? NULL : TextDatumGetCString(elems[i]);

			if (name == NULL || mesh_agg_flag(name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown aggregate \"%s\" in aggregates", name ? name : "null"),
						 errhint("Aggregates are count, count_distinct, sum, avg, min and max.")));
			v.type = jbvString;
			v.val.string.val = name;
			v.val.string.len = strlen(name);
			pushJsonbValue(&state, WJB_ELEM, &v);
		}
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	a.args = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
	exemptions(fcinfo, 6, &a);
	if (entity_key != NULL && a.product == NULL && a.tag != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an aggregation policy bound to a tag takes no entity_key"),
				 errhint("Bind the policy to the product to count its groups by an entity key column.")));
	create_policy(&a);
	PG_RETURN_VOID();
}

/*
 * meshpg.create_privacy_policy(name, product, privacy_unit, epsilon, delta,
 * max_contributions, bounds, budget_epsilon, budget_delta, budget_window,
 * exempt_roles, exempt_attributes, exempt_purposes, applies_to_domain,
 * description): the product may be read only through noisy aggregates,
 * each query spending from a budget per reader (governance/privacy.c).
 * Bound to a product only: the unit and the bounds are its columns.  The
 * options are stored as the policy's args, and validated by the same
 * parser the planner uses.
 */
static void
json_number(StringInfo buf, const char *key, double v)
{
	char	   *num = float8out_internal(v);

	appendStringInfo(buf, ", ");
	escape_json(buf, key);
	appendStringInfo(buf, ": %s", num);
}

Datum
meshpg_create_privacy_policy(PG_FUNCTION_ARGS)
{
	PolicyArgs	a = {0};
	char	   *unit;
	StringInfoData buf;

	a.name = mesh_arg_text(fcinfo, 0, "policy name");
	a.kind = "privacy";
	a.product = mesh_arg_text(fcinfo, 1, "product");
	unit = mesh_arg_text(fcinfo, 2, "privacy_unit");
	for (int i = 3; i <= 9; i++)
		if (PG_ARGISNULL(i) && i != 7)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							(const char *[]) {"epsilon", "delta", "max_contributions", "bounds",
											  "budget_epsilon", "budget_delta", "budget_window"}[i - 3])));

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{");
	escape_json(&buf, "entity_key");
	appendStringInfoString(&buf, ": ");
	escape_json(&buf, unit);
	json_number(&buf, "epsilon", PG_GETARG_FLOAT8(3));
	json_number(&buf, "delta", PG_GETARG_FLOAT8(4));
	json_number(&buf, "max_contributions", (double) PG_GETARG_INT32(5));
	appendStringInfoString(&buf, ", \"bounds\": ");
	appendStringInfoString(&buf, JsonbToCString(NULL, &PG_GETARG_JSONB_P(6)->root, 0));
	if (!PG_ARGISNULL(7))
		json_number(&buf, "budget_epsilon", PG_GETARG_FLOAT8(7));
	json_number(&buf, "budget_delta", PG_GETARG_FLOAT8(8));
	appendStringInfoString(&buf, ", ");
	escape_json(&buf, "budget_window");
	appendStringInfoString(&buf, ": ");
	{
		/* ISO 8601, whatever the session's IntervalStyle: descriptors compare it */
		struct pg_itm itm;
		char		iso[MAXDATELEN + 1];

		interval2itm(*PG_GETARG_INTERVAL_P(9), &itm);
		EncodeInterval(&itm, INTSTYLE_ISO_8601, iso);
		escape_json(&buf, iso);
	}
	appendStringInfoString(&buf, "}");
	a.args = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	exemptions(fcinfo, 10, &a);
	create_policy(&a);
	PG_RETURN_VOID();
}
