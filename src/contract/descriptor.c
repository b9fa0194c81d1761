/*
 * descriptor.c
 *		Descriptors: validating a parsed document against the descriptor
 *		format (ODCS v3 field names where they fit), the size setting, and
 *		rendering an exported document as YAML.
 *
 * Validation turns each document into normalised jsonb that the
 * convergence code (meshpg._converge in SQL, one handler per section)
 * can trust: every field known and of the right type, every error naming
 * the path of the offending value (schema[0].properties[2].logicalType).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "access/relation.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "meshpg/contract/contract.h"
#include "meshpg/contract/yaml_tree.h"
#include "meshpg/events/events.h"
#include "meshpg/policy/policy.h"
#include "meshpg/registry/registry.h"
#include "meshpg/slo/slo.h"

PG_FUNCTION_INFO_V1(meshpg_descriptor_parse);
PG_FUNCTION_INFO_V1(meshpg_descriptor_render);
PG_FUNCTION_INFO_V1(meshpg_canonical_expression);
PG_FUNCTION_INFO_V1(meshpg_descriptor_applied);

int			mesh_descriptor_max_size = 1024 * 1024;

void
mesh_define_contract_settings(void)
{
	DefineCustomIntVariable("meshpg.descriptor_max_size",
							"Largest descriptor meshpg.apply() and meshpg.plan() accept.",
							"Bigger documents are refused before they are parsed.",
							&mesh_descriptor_max_size,
							1024 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
}

typedef enum FieldType
{
	F_STRING,
	F_BOOL,
	F_OBJECT,					/* a mapping with known fields */
	F_LIST,						/* a sequence of mappings with known fields */
	F_STRINGS,					/* a sequence of strings */
	F_FREE_OBJECT				/* a mapping of anything (mask args, SLO specs) */
} FieldType;

typedef struct FieldSpec
{
	const char *name;
	FieldType	type;
	bool		required;
	const struct FieldSpec *fields;
	const char *const *allowed;
} FieldSpec;

static const char *const logical_types[] = {"string", "date", "timestamp", "time", "number",
"integer", "object", "array", "boolean", NULL};
static const char *const relation_types[] = {"table", "view", "materialized view",
"partitioned table", "foreign table", NULL};
static const char *const access_kinds[] = {"read", NULL};
static const char *const policy_kinds[] = {"mask", "row", "projection", "aggregation", "privacy", NULL};
static const char *const contract_kinds[] = {"DataContract", NULL};
static const char *const statuses[] = {"draft", "active", "deprecated", "retired", NULL};

static const FieldSpec property_fields[] = {
	{"name", F_STRING, true},
	{"logicalType", F_STRING, false, NULL, logical_types},
	{"physicalType", F_STRING, true},
	{"required", F_BOOL},
	{"description", F_STRING},
	{"tags", F_STRINGS},
	{NULL}
};

static const FieldSpec schema_fields[] = {
	{"name", F_STRING, true},
	{"physicalName", F_STRING, true},
	{"physicalType", F_STRING, false, NULL, relation_types},
	{"properties", F_LIST, true, property_fields},
	{NULL}
};

static const FieldSpec description_fields[] = {
	{"purpose", F_STRING},
	{NULL}
};

static const FieldSpec team_fields[] = {
	{"username", F_STRING, true},
	{"role", F_STRING},
	{NULL}
};

static const FieldSpec role_fields[] = {
	{"role", F_STRING, true},
	{"access", F_STRING, false, NULL, access_kinds},
	{"purpose", F_STRING},
	{"expires", F_STRING},
	{NULL}
};

static const FieldSpec policy_fields[] = {
	{"name", F_STRING, true},
	{"kind", F_STRING, true, NULL, policy_kinds},
	{"column", F_STRING},
	{"mask", F_STRING},
	{"args", F_FREE_OBJECT},
	{"expression", F_STRING},
	{"exemptRoles", F_STRINGS},
	{"exemptAttributes", F_FREE_OBJECT},
	{"exemptPurposes", F_STRINGS},
	{"appliesToDomain", F_BOOL},
	{"description", F_STRING},
	{NULL}
};

/* an SLO's kind is one of mesh_slo_kind_names (MESH_SLO_KINDS in slo.h) */
static const char *const slo_severities[] = {"info", "warning", "critical", NULL};

/* An SLO: the arguments of meshpg.declare_slo (spec is the kind's own) */
static const FieldSpec slo_fields[] = {
	{"name", F_STRING, true},
	{"kind", F_STRING, true, NULL, mesh_slo_kind_names},	/* slo.h */
	{"spec", F_FREE_OBJECT, true},
	{"window", F_STRING},
	{"severity", F_STRING, false, NULL, slo_severities},
	{"schedule", F_STRING},
	{NULL}
};

/* A product-bound retention policy: the arguments of meshpg.create_retention_policy */
static const char *const retention_actions[] = {"delete", "anonymise", "drop_partitions", NULL};
static const FieldSpec retention_fields[] = {
	{"name", F_STRING, true},
	{"keep", F_STRING, true},
	{"timeColumn", F_STRING, true},
	{"action", F_STRING, false, NULL, retention_actions},
	{"columns", F_STRINGS},
	{"mask", F_STRING},
	{"args", F_FREE_OBJECT},
	{"description", F_STRING},
	{NULL}
};

/* a product's auto-approval rules (meshpg.set_auto_approval) */
static const FieldSpec auto_approval_fields[] = {
	{"purposes", F_STRINGS},
	{"attributes", F_FREE_OBJECT},
	{"maxDuration", F_STRING},
	{NULL}
};

static const FieldSpec access_request_fields[] = {
	{"autoApproval", F_LIST, false, auto_approval_fields},
	{NULL}
};

static const FieldSpec document_fields[] = {
	{"apiVersion", F_STRING, true},
	{"kind", F_STRING, true, NULL, contract_kinds},
	{"id", F_STRING, true},
	{"domain", F_STRING},
	{"dataProduct", F_STRING},
	{"version", F_STRING, true},
	{"status", F_STRING, true, NULL, statuses},
	{"sunset", F_STRING},
	{"successor", F_STRING},
	{"description", F_OBJECT, false, description_fields},
	{"team", F_LIST, false, team_fields},
	{"schema", F_LIST, true, schema_fields},
	{"roles", F_LIST, false, role_fields},
	{"policies", F_LIST, false, policy_fields},
	{"slaProperties", F_LIST, false, slo_fields},
	{"quality", F_LIST, false, slo_fields},
	{"retention", F_LIST, false, retention_fields},
	{"accessRequests", F_OBJECT, false, access_request_fields},
	{NULL}
};

typedef struct Validation
{
	bool		strict;
	const char *doc_label;		/* "document 2: " in a stream of several */
} Validation;

static const char *
kind_name(const YNode *node)
{
	if (node->kind == YMAP)
		return "a mapping";
	if (node->kind == YSEQ)
		return "a sequence";
	return "a scalar";
}

static void
path_error(const Validation *v, const char *path, int line, const char *fmt, const char *arg1,
		   const char *arg2)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s%s: %s", v->doc_label, path, psprintf(fmt, arg1, arg2)),
			 errdetail("At line %d of the descriptor.", line)));
}

static bool
is_null_scalar(const YNode *n)
{
	return n->kind == YSCALAR && n->plain &&
		(n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
		 pg_strcasecmp(n->value, "null") == 0);
}

static bool
is_bool_scalar(const YNode *n, bool *value)
{
	if (n->kind != YSCALAR || !n->plain)
		return false;
	if (pg_strcasecmp(n->value, "true") == 0)
		*value = true;
	else if (pg_strcasecmp(n->value, "false") == 0)
		*value = false;
	else
		return false;
	return true;
}

static bool
is_number_scalar(const YNode *n)
{
	const char *p = n->value;
	bool		digits = false;

	if (n->kind != YSCALAR || !n->plain)
		return false;
	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits = true;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	if (digits && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return digits && *p == '\0';
}

/* A value of free form (mask args, SLO specs): typed by YAML's core schema. */
static void
convert_free(StringInfo out, const YNode *node)
{
	ListCell   *lk,
			   *lv;
	bool		b;
	bool		first = true;

	switch (node->kind)
	{
		case YSCALAR:
			if (is_null_scalar(node))
				appendStringInfoString(out, "null");
			else if (is_bool_scalar(node, &b))
				appendStringInfoString(out, b ? "true" : "false");
			else if (is_number_scalar(node))
				appendStringInfoString(out, node->value[0] == '+' ? node->value + 1 : node->value);
			else
				escape_json(out, node->value);
			break;
		case YSEQ:
			appendStringInfoChar(out, '[');
			foreach(lv, node->items)
			{
				appendStringInfoString(out, first ? "" : ", ");
				first = false;
				convert_free(out, lfirst(lv));
			}
			appendStringInfoChar(out, ']');
			break;
		case YMAP:
			appendStringInfoChar(out, '{');
			forboth(lk, node->keys, lv, node->items)
			{
				appendStringInfoString(out, first ? "" : ", ");
				first = false;
				escape_json(out, ((YNode *) lfirst(lk))->value);
				appendStringInfoString(out, ": ");
				convert_free(out, lfirst(lv));
			}
			appendStringInfoChar(out, '}');
			break;
	}
}

static void convert_object(StringInfo out, const YNode *node, const FieldSpec *fields,
						   const char *path, const Validation *v);

static void
convert_string(StringInfo out, const YNode *node, const FieldSpec *spec, const char *path,
			   const Validation *v)
{
	bool		b;

	if (node->kind != YSCALAR)
		path_error(v, path, node->line, "expected a string, found %s", kind_name(node), NULL);
	if (is_bool_scalar(node, &b) || is_number_scalar(node))
		path_error(v, path, node->line, "expected a string, found %s (quote it)",
				   node->value, NULL);
	if (spec != NULL && spec->allowed != NULL)
	{
		bool		ok = false;
		StringInfoData list;

		initStringInfo(&list);
		for (int i = 0; spec->allowed[i]; i++)
		{
			ok |= strcmp(spec->allowed[i], node->value) == 0;
			appendStringInfo(&list, "%s\"%s\"", i ? ", " : "", spec->allowed[i]);
		}
		if (!ok)
			path_error(v, path, node->line, "invalid value \"%s\"; expected one of %s",
					   node->value, list.data);
	}
	escape_json(out, node->value);
}

static void
convert_field(StringInfo out, const YNode *node, const FieldSpec *spec, const char *path,
			  const Validation *v)
{
	ListCell   *lc;
	bool		b;
	int			i = 0;

	if (is_null_scalar(node))
	{
		if (spec->required)
			path_error(v, path, node->line, "must not be null", NULL, NULL);
		appendStringInfoString(out, "null");
		return;
	}
	switch (spec->type)
	{
		case F_STRING:
			convert_string(out, node, spec, path, v);
			break;
		case F_BOOL:
			if (!is_bool_scalar(node, &b))
				path_error(v, path, node->line, "expected true or false, found %s",
						   node->kind == YSCALAR ? psprintf("\"%s\"", node->value) : kind_name(node),
						   NULL);
			appendStringInfoString(out, b ? "true" : "false");
			break;
		case F_OBJECT:
			convert_object(out, node, spec->fields, path, v);
			break;
		case F_FREE_OBJECT:
			if (node->kind != YMAP)
				path_error(v, path, node->line, "expected a mapping, found %s", kind_name(node), NULL);
			convert_free(out, node);
			break;
		case F_LIST:
		case F_STRINGS:
			if (node->kind != YSEQ)
				path_error(v, path, node->line, "expected a sequence, found %s", kind_name(node), NULL);
			appendStringInfoChar(out, '[');
			foreach(lc, node->items)
			{
				char	   *item_path = psprintf("%s[%d]", path, i);

				appendStringInfoString(out, i++ ? ", " : "");
				if (spec->type == F_LIST)
					convert_object(out, lfirst(lc), spec->fields, item_path, v);
				else
				{
					if (is_null_scalar(lfirst(lc)))
						path_error(v, item_path, ((YNode *) lfirst(lc))->line, "must not be null",
								   NULL, NULL);
					convert_string(out, lfirst(lc), NULL, item_path, v);
				}
			}
			appendStringInfoChar(out, ']');
			break;
	}
}

static void
convert_object(StringInfo out, const YNode *node, const FieldSpec *fields, const char *path,
			   const Validation *v)
{
	ListCell   *lk,
			   *lv;
	bool		first = true;

	if (node->kind != YMAP)
		path_error(v, path[0] ? path : "(document)", node->line,
				   "expected a mapping, found %s", kind_name(node), NULL);
	forboth(lk, node->keys, lv, node->items)
	{
		const YNode *key = lfirst(lk);
		const FieldSpec *spec = NULL;
		char	   *field_path = path[0] ? psprintf("%s.%s", path, key->value) : key->value;

		for (const FieldSpec *f = fields; f->name; f++)
			if (strcmp(f->name, key->value) == 0)
				spec = f;
		if (spec == NULL)
		{
			if (v->strict)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s%s: unknown field", v->doc_label, field_path),
						 errdetail("At line %d of the descriptor.", key->line),
						 errhint("Remove the field, or apply with strict => false to ignore unknown fields with a warning.")));
			ereport(WARNING,
					(errmsg("%s%s: unknown field ignored", v->doc_label, field_path),
					 errdetail("At line %d of the descriptor.", key->line)));
			continue;
		}
		appendStringInfoString(out, first ? "{" : ", ");
		first = false;
		escape_json(out, key->value);
		appendStringInfoString(out, ": ");
		convert_field(out, lfirst(lv), spec, field_path, v);
	}
	for (const FieldSpec *f = fields; f->name; f++)
	{
		bool		present = false;

		if (!f->required)
			continue;
		foreach(lk, node->keys)
			present |= strcmp(((YNode *) lfirst(lk))->value, f->name) == 0;
		if (!present)
			path_error(v, path[0] ? psprintf("%s.%s", path, f->name) : f->name, node->line,
					   "required field is missing", NULL, NULL);
	}
	appendStringInfoString(out, first ? "{}" : "}");
}

/*
 * meshpg._descriptor_parse(descriptor text, strict boolean) returns jsonb:
 * the array of validated documents.
 */
Datum
meshpg_descriptor_parse(PG_FUNCTION_ARGS)
{
	text	   *input;
	bool		strict;
	List	   *docs;
	ListCell   *lc;
	StringInfoData out;
	int			i = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("descriptor must not be null")));
	strict = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
	input = PG_GETARG_TEXT_PP(0);
	if (VARSIZE_ANY_EXHDR(input) > (Size) mesh_descriptor_max_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("descriptor is too large: %zu bytes", (size_t) VARSIZE_ANY_EXHDR(input)),
				 errdetail("The limit is %d bytes (meshpg.descriptor_max_size).",
						   mesh_descriptor_max_size)));

	docs = mesh_yaml_parse(VARDATA_ANY(input), VARSIZE_ANY_EXHDR(input));
	if (docs == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("descriptor is empty")));

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	foreach(lc, docs)
	{
		Validation	v;
		YNode	   *doc = lfirst(lc);

		v.strict = strict;
		v.doc_label = list_length(docs) > 1 ? psprintf("document %d: ", i + 1) : "";
		/* JSON: a list of documents is a stream too */
		if (doc->kind == YSEQ && list_length(docs) == 1)
		{
			ListCell   *li;
			int			j = 0;

			foreach(li, doc->items)
			{
				v.doc_label = psprintf("document %d: ", j + 1);
				appendStringInfoString(&out, j++ ? ", " : "");
				convert_object(&out, lfirst(li), document_fields, "", &v);
			}
			i = j;
			break;
		}
		appendStringInfoString(&out, i++ ? ", " : "");
		convert_object(&out, doc, document_fields, "", &v);
	}
	appendStringInfoChar(&out, ']');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

/* ---- rendering ---- */

/* Keys in the order a person reads a contract; others follow, sorted. */
static const char *const key_order[] = {
	"name", "apiVersion", "kind", "id", "domain", "dataProduct", "version", "status", "sunset",
	"successor", "physicalName", "logicalType", "physicalType", "required", "description",
	"username", "role", "access", "purpose", "expires", "tags", "team", "schema", "properties",
	"roles", "column", "mask", "args", "expression", "exemptRoles", "exemptAttributes",
	"exemptPurposes", "appliesToDomain", "policies", "spec", "window", "severity", "schedule",
	"slaProperties", "quality", NULL
};

static int
key_rank(const char *key, int len)
{
	for (int i = 0; key_order[i]; i++)
		if ((int) strlen(key_order[i]) == len && strncmp(key_order[i], key, len) == 0)
			return i;
	return 1000;
}

typedef struct KV
{
	JsonbValue	key;
	JsonbValue	value;
	int			rank;
} KV;

static int
kv_cmp(const void *a, const void *b)
{
	const KV   *x = a,
			   *y = b;
	int			c;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	c = strncmp(x->key.val.string.val, y->key.val.string.val,
				Min(x->key.val.string.len, y->key.val.string.len));
	return c != 0 ? c : x->key.val.string.len - y->key.val.string.len;
}

static void render_value(StringInfo out, JsonbValue *v, int indent, bool in_seq);

static void
render_scalar(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(out, "null");
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvString:
			mesh_yaml_scalar(out, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", v->type);
	}
}

/*
 * Block style; a mapping inside a sequence starts on the dash's line.
 * Empty containers are written in flow style ({} and []).
 */
static void
render_container(StringInfo out, JsonbContainer *c, int indent, bool in_seq)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		first = true;

	check_stack_depth();
	tok = JsonbIteratorNext(&it, &v, true);
	if (tok == WJB_BEGIN_ARRAY)
	{
		if (v.val.array.nElems == 0)
		{
			appendStringInfoString(out, " []\n");
			return;
		}
		if (!in_seq)
			appendStringInfoChar(out, '\n');
		while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_ELEM)
		{
			if (!(first && in_seq))
				appendStringInfoSpaces(out, indent);
			first = false;
			appendStringInfoString(out, "-");
			render_value(out, &v, indent + 2, true);
		}
	}
	else if (tok == WJB_BEGIN_OBJECT)
	{
		KV		   *kvs = palloc(sizeof(KV) * (v.val.object.nPairs + 1));
		int			n = 0;

		while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_KEY)
		{
			kvs[n].key = v;
			kvs[n].rank = key_rank(v.val.string.val, v.val.string.len);
			tok = JsonbIteratorNext(&it, &kvs[n].value, true);
			n++;
		}
		if (n == 0)
		{
			appendStringInfoString(out, " {}\n");
			return;
		}
		qsort(kvs, n, sizeof(KV), kv_cmp);
		if (in_seq)
			appendStringInfoChar(out, ' ');
		else
			appendStringInfoChar(out, '\n');
		for (int i = 0; i < n; i++)
		{
			if (!(i == 0 && in_seq))
				appendStringInfoSpaces(out, indent);
			mesh_yaml_scalar(out, pnstrdup(kvs[i].key.val.string.val, kvs[i].key.val.string.len));
			appendStringInfoChar(out, ':');
			render_value(out, &kvs[i].value, indent + 2, false);
		}
	}
}

static void
render_value(StringInfo out, JsonbValue *v, int indent, bool in_seq)
{
	if (v->type == jbvBinary)
	{
		render_container(out, v->val.binary.data, indent, in_seq);
		return;
	}
	appendStringInfoChar(out, ' ');
	render_scalar(out, v);
	appendStringInfoChar(out, '\n');
}

/* meshpg._descriptor_render(document jsonb) returns the document as YAML */
Datum
meshpg_descriptor_render(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	StringInfoData out;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	KV		   *kvs;
	int			n = 0;

	if (!JB_ROOT_IS_OBJECT(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a descriptor document must be an object")));
	initStringInfo(&out);
	it = JsonbIteratorInit(&doc->root);
	tok = JsonbIteratorNext(&it, &v, true);
	kvs = palloc(sizeof(KV) * (v.val.object.nPairs + 1));
	while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_KEY)
	{
		kvs[n].key = v;
		kvs[n].rank = key_rank(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &kvs[n].value, true);
		n++;
	}
	qsort(kvs, n, sizeof(KV), kv_cmp);
	for (int i = 0; i < n; i++)
	{
		mesh_yaml_scalar(&out, pnstrdup(kvs[i].key.val.string.val, kvs[i].key.val.string.len));
		appendStringInfoChar(&out, ':');
		render_value(&out, &kvs[i].value, 2, false);
	}
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}

/*
 * meshpg._canonical_expression(product, column, kind, expression): the form
 * the catalog stores a product-bound policy expression in, so that a
 * descriptor's expression compares equal to what apply created from it.
 */
Datum
meshpg_canonical_expression(PG_FUNCTION_ARGS)
{
	char	   *ref;
	char	   *column;
	char	   *kind;
	char	   *source;
	MeshSpiState spi;
	MeshProductRow product;
	Relation	rel;
	AttrNumber	subject;
	Form_pg_attribute att;
	Node	   *expr;
	char	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	column = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(2));
	source = text_to_cstring(PG_GETARG_TEXT_PP(3));

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	/* as for creating a product-bound policy: it opens the relation */
	mesh_require_admin_or_member(spi.userid, &product.domain);
	mesh_spi_end(&spi);

	rel = relation_open(product.relid, AccessShareLock);
	subject = column ? get_attnum(product.relid, column) : 0;
	att = subject > 0 ? TupleDescAttr(RelationGetDescr(rel), subject - 1) : NULL;
	expr = mesh_analyze_expr(source, rel, subject, strcmp(kind, "row") == 0,
							 att ? att->atttypid : InvalidOid, att ? att->atttypmod : -1, false);
	result = mesh_deparse_expr(expr, rel);
	relation_close(rel, AccessShareLock);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * meshpg._descriptor_applied(product, actions): meshpg.apply's event for one
 * product whose document changed something, once the changes are made
 * (each of which emitted its own event).  actions: the apply's actions on
 * the product, as [{"action": ..., "object": ...}], names only.  Callable
 * by whoever may change the product: the domain team and the governance
 * team (anyone else could otherwise forge the event).
 */
Datum
meshpg_descriptor_applied(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	Jsonb	   *actions;
	MeshSpiState spi;
	MeshProductRow product;
	StringInfoData d;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("actions must not be null")));
	actions = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_ARRAY(actions) || JB_ROOT_IS_SCALAR(actions))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("actions must be a JSON array")));

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	mesh_event_data_start(&d);
	mesh_event_data_text(&d, "product", product.qualname);
	mesh_event_data_text(&d, "version", product.version);
	mesh_event_data_text(&d, "state", product.state_name);
	mesh_event_data_json(&d, "actions", JsonbToCString(NULL, &actions->root, VARSIZE(actions)));
	mesh_event_emit("meshpg.descriptor.applied", product.qualname, mesh_event_data_end(&d));
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}
