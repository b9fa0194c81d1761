/*
 * record.c
 *		The contract of a published product version: recorded at publish,
 *		checked after every DDL that could change it.
 *
 * The published interface lives in meshpg.cat_column.published_* (one row
 * per column); meshpg.cat_contract keeps one snapshot per version, with
 * descriptions, tags, comments and the policies that bind the product.
 * A DDL statement that reaches a served (published or deprecated) product
 * is compared with the interface afterwards, inside the statement's own
 * transaction: a breaking difference raises an error and everything rolls
 * back; compatible differences become the next minor version, announced
 * on the meshpg_contract channel.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/contract/contract.h"
#include "meshpg/events/events.h"
#include "meshpg/registry/registry.h"

#define NEW_MAJOR_HINT \
	"Publish the change as a new major version: create a new relation and call meshpg.publish_version('%s', relation => ..., sunset => ...)."

/*
 * Types are compared by their format_type() text, recorded under meshpg's
 * own search_path (pg_catalog, pg_temp: every other type qualified).  The
 * checks run in the user's session, so they pin the same search_path.
 */
int
mesh_contract_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

void
mesh_contract_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/*
 * Whether this database's meshpg has the 1.1 catalog.  Until ALTER
 * EXTENSION meshpg UPDATE, the library keeps 1.0's behaviour: no contracts
 * are recorded and only 1.0's DDL refusals apply.
 */
bool
mesh_contracts_installed(void)
{
	const MeshCatalog *cat = mesh_catalog();

	return cat != NULL && OidIsValid(get_relname_relid("cat_contract", cat->nsp));
}

/* Called inside mesh_spi_begin/end. */
void
mesh_contract_record(int64 product_id, const char *version, const char *change,
					 const char *changes_json)
{
	if (!mesh_contracts_installed())
		return;
	mesh_spi_exec("INSERT INTO meshpg.cat_contract "
				  "  (product_id, version, change, contract, changes, recorded_by) "
				  "VALUES ($1, $2, $3, meshpg._contract_snapshot($1), $4::jsonb, current_user) "
				  "ON CONFLICT (product_id, version) DO UPDATE "
				  "   SET change = EXCLUDED.change, contract = EXCLUDED.contract, "
				  "       changes = EXCLUDED.changes, recorded_by = EXCLUDED.recorded_by, "
				  "       recorded_at = now()",
				  4, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product_id), CStringGetTextDatum(version),
					  CStringGetTextDatum(change),
				  CStringGetTextDatum(changes_json ? changes_json : "[]")}, NULL);
}

char *
mesh_product_version(int64 product_id)
{
	return mesh_spi_first_value("SELECT version FROM meshpg.cat_product WHERE id = $1",
								1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)});
}

static char *
product_qualname(int64 product_id)
{
	return mesh_spi_first_value("SELECT d.name || '.' || p.name FROM meshpg.cat_product p "
								"  JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = $1",
								1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)});
}

/*
 * The one error for every breaking change, whoever runs it: superusers too.
 * 2BP01 (dependent_objects_still_exist): consumers depend on the interface,
 * as a view depends on the columns PostgreSQL refuses to drop under it.
 */
void
mesh_contract_refuse(int64 product_id, const char *column, const char *action,
					 const char *detail)
{
	char	   *qualname = product_qualname(product_id);
	char	   *version = mesh_product_version(product_id);

	if (column != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot %s column \"%s\" of data product \"%s\" version %s",
						action, column, qualname, version),
				 errdetail("%s The column is part of the published contract that consumers rely on.", detail),
				 errhint(NEW_MAJOR_HINT, qualname)));
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot %s data product \"%s\" version %s", action, qualname, version),
			 errdetail("%s", detail),
			 errhint(NEW_MAJOR_HINT, qualname)));
}

/* "character varying(10)" -> 10; -1 without a length; -2 if another type. */
static int
varchar_length(const char *type)
{
	if (strcmp(type, "character varying") == 0)
		return -1;
	if (strncmp(type, "character varying(", 18) == 0)
		return atoi(type + 18);
	return -2;
}

/* "numeric(12,2)" -> precision and scale; false if not a bounded numeric */
static bool
numeric_bounds(const char *type, int *precision, int *scale)
{
	return sscanf(type, "numeric(%d,%d)", precision, scale) == 2;
}

/*
 * Whether a value of type "from" always fits "to" unchanged, so readers
 * see the same values: widening a varchar or a numeric's precision.
 */
bool
mesh_type_widens(const char *from, const char *to)
{
	int			lf = varchar_length(from),
				lt = varchar_length(to);
	int			pf,
				sf,
				pt,
				st;

	if (strcmp(from, to) == 0)
		return true;
	if (lf >= 0 && lt != -2)
		return lt == -1 || lt >= lf;
	if (numeric_bounds(from, &pf, &sf))
	{
		if (strcmp(to, "numeric") == 0)
			return true;
		return numeric_bounds(to, &pt, &st) && st == sf && pt >= pf;
	}
	return false;
}

static void
append_change(StringInfo changes, const char *kind, const char *column,
			  const char *from, const char *to)
{
	appendStringInfo(changes, "%s{\"change\": ", changes->len > 1 ? ", " : "");
	escape_json(changes, kind);
	if (column)
	{
		appendStringInfoString(changes, ", \"column\": ");
		escape_json(changes, column);
	}
	if (from)
	{
		appendStringInfoString(changes, ", \"from\": ");
		escape_json(changes, from);
	}
	if (to)
	{
		appendStringInfoString(changes, ", \"to\": ");
		escape_json(changes, to);
	}
	appendStringInfoChar(changes, '}');
}

static char *
next_minor(const char *version)
{
	long		major,
				minor;
	char	   *end;

	major = strtol(version, &end, 10);
	minor = strtol(end + 1, &end, 10);
	return psprintf("%ld.%ld.0", major, minor + 1);
}

/*
 * After a DDL statement that reached a served product: refuse a broken
 * interface, or record compatible changes as the next minor version.
 */
void
mesh_contract_check_after(int64 product_id, const char *statement)
{
	MeshSpiState spi;
	StringInfoData changes;
	Datum		arg = Int64GetDatum(product_id);
	Oid			argtype = INT8OID;
	char	   *state;
	char	   *version;
	char	   *new_version;
	char	   *qualname;
	StringInfoData payload;
	int			nestlevel;

	state = mesh_spi_first_value("SELECT state FROM meshpg.cat_product WHERE id = $1",
								 1, &argtype, &arg);
	if (state == NULL || (strcmp(state, "published") != 0 && strcmp(state, "deprecated") != 0))
		return;

	initStringInfo(&changes);
	appendStringInfoChar(&changes, '[');

	nestlevel = mesh_contract_pin_search_path();
	mesh_spi_begin(&spi);
	/* published columns against the live relation */
	mesh_spi_exec("SELECT c.name, c.published_type, c.published_nullable, a.attname IS NOT NULL, "
				  "       pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
				  "  FROM meshpg.cat_column c JOIN meshpg.cat_product p ON p.id = c.product_id "
				  "  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = p.relid "
				  "       AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped "
				  " WHERE c.product_id = $1 AND c.published_type IS NOT NULL "
				  " ORDER BY c.published_position",
				  1, &argtype, &arg, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *column = SPI_getvalue(tup, desc, 1);
		char	   *published_type = SPI_getvalue(tup, desc, 2);
		bool		published_nullable = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		bool		present = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		char	   *live_type = SPI_getvalue(tup, desc, 5);
		bool		live_nullable = present && DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));

		if (!present)
			mesh_contract_refuse(product_id, column, "remove",
								 psprintf("%s would leave the relation without the column (dropped or renamed).",
										  statement));
		if (strcmp(published_type, live_type) != 0)
		{
			if (!mesh_type_widens(published_type, live_type))
				mesh_contract_refuse(product_id, column, "change the type of",
									 psprintf("%s would change its type from %s to %s.",
											  statement, published_type, live_type));
			append_change(&changes, "widen type", column, published_type, live_type);
		}
		if (!published_nullable && live_nullable)
			mesh_contract_refuse(product_id, column, "make nullable",
								 psprintf("%s would let it hold nulls; the contract says it never does.",
										  statement));
		if (published_nullable && !live_nullable)
			append_change(&changes, "set not null", column, NULL, NULL);
	}

	/* columns added since */
	mesh_spi_exec("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
				  "  FROM meshpg.cat_product p JOIN pg_catalog.pg_attribute a ON a.attrelid = p.relid "
				  " WHERE p.id = $1 AND a.attnum > 0 AND NOT a.attisdropped "
				  "   AND NOT EXISTS (SELECT 1 FROM meshpg.cat_column c WHERE c.product_id = p.id "
				  "                      AND c.name = a.attname AND c.published_type IS NOT NULL) "
				  " ORDER BY a.attnum",
				  1, &argtype, &arg, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
		append_change(&changes, "add column",
					  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), NULL,
					  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));

	/* comments on the relation and its columns */
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_contract k WHERE k.product_id = $1 "
				  "   AND k.recorded_at = (SELECT max(recorded_at) FROM meshpg.cat_contract "
				  "                         WHERE product_id = $1) "
				  "   AND k.contract->'comments' IS DISTINCT FROM meshpg._contract_snapshot($1)->'comments'",
				  1, &argtype, &arg, NULL);
	if (SPI_processed > 0)
		append_change(&changes, "comment", NULL, NULL, NULL);
	appendStringInfoChar(&changes, ']');

	if (changes.len <= 2)
	{
		mesh_spi_end(&spi);
		mesh_contract_unpin_search_path(nestlevel);
		return;
	}

	/* Compatible: the next minor version, its interface and contract. */
	mesh_spi_exec("SELECT p.version, d.name || '.' || p.name FROM meshpg.cat_product p "
				  "  JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = $1 FOR UPDATE OF p",
				  1, &argtype, &arg, NULL);
	version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	qualname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	new_version = next_minor(version);
	mesh_spi_exec("INSERT INTO meshpg.cat_column "
				  "  (product_id, name, published_type, published_nullable, published_position) "
				  "SELECT p.id, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
				  "       NOT a.attnotnull, a.attnum "
				  "  FROM meshpg.cat_product p JOIN pg_catalog.pg_attribute a ON a.attrelid = p.relid "
				  " WHERE p.id = $1 AND a.attnum > 0 AND NOT a.attisdropped "
				  "ON CONFLICT (product_id, name) DO UPDATE "
				  "   SET published_type = EXCLUDED.published_type, "
				  "       published_nullable = EXCLUDED.published_nullable, "
				  "       published_position = EXCLUDED.published_position",
				  1, &argtype, &arg, NULL);
	mesh_spi_exec("UPDATE meshpg.cat_product SET version = $2, updated_at = now() WHERE id = $1",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {arg, CStringGetTextDatum(new_version)}, NULL);
	mesh_contract_record(product_id, new_version, "compatible", changes.data);
	mesh_refresh_search_product(product_id);
	{
		StringInfoData d;

		/* column names and types: the interface, never the rows */
		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "product", qualname);
		mesh_event_data_text(&d, "version", new_version);
		mesh_event_data_text(&d, "previous_version", version);
		mesh_event_data_json(&d, "changes", changes.data);
		mesh_event_emit("meshpg.contract.changed", qualname, mesh_event_data_end(&d));
	}
	mesh_spi_end(&spi);
	mesh_contract_unpin_search_path(nestlevel);

	/* Listeners get it at commit, and not at all if the statement fails. */
	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"product\": ");
	escape_json(&payload, qualname);
	appendStringInfoString(&payload, ", \"version\": ");
	escape_json(&payload, new_version);
	appendStringInfoString(&payload, ", \"previous\": ");
	escape_json(&payload, version);
	appendStringInfo(&payload, ", \"changes\": %s}", changes.data);
	if (payload.len >= 7900)
	{
		resetStringInfo(&payload);
		appendStringInfoString(&payload, "{\"product\": ");
		escape_json(&payload, qualname);
		appendStringInfoString(&payload, ", \"version\": ");
		escape_json(&payload, new_version);
		appendStringInfoString(&payload, ", \"changes\": \"see meshpg.contracts\"}");
	}
	Async_Notify("meshpg_contract", payload.data);
}

/*
 * CREATE OR REPLACE VIEW of a served product: analyse the new query the way
 * DefineView will, and refuse before anything changes if a published column
 * would go, be renamed or change type.  (PostgreSQL refuses most of these
 * itself, but without naming the product or the way forward.)
 */
void
mesh_contract_check_view(ViewStmt *stmt, Oid relid, int64 product_id, const char *queryString)
{
	RawStmt    *raw = makeNode(RawStmt);
	Query	   *query;
	ListCell   *lc;
	ListCell   *alias;
	List	   *names = NIL;
	List	   *types = NIL;
	MeshSpiState spi;
	Datum		arg = Int64GetDatum(product_id);
	Oid			argtype = INT8OID;
	int			nestlevel;

	raw->stmt = copyObject(stmt->query);
	raw->stmt_location = -1;
	raw->stmt_len = 0;
	query = parse_analyze_fixedparams(raw, queryString, NULL, 0, NULL);
	if (!IsA(query, Query) || query->commandType != CMD_SELECT)
		return;
	alias = list_head(stmt->aliases);
	nestlevel = mesh_contract_pin_search_path();
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst(lc);
		const char *name;

		if (tle->resjunk)
			continue;
		name = tle->resname;
		if (alias != NULL)
		{
			name = strVal(lfirst(alias));
			alias = lnext(stmt->aliases, alias);
		}
		names = lappend(names, pstrdup(name ? name : "?column?"));
		types = lappend(types, format_type_with_typemod(exprType((Node *) tle->expr),
														exprTypmod((Node *) tle->expr)));
	}
	mesh_contract_unpin_search_path(nestlevel);

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT name, published_type FROM meshpg.cat_column "
				  " WHERE product_id = $1 AND published_type IS NOT NULL ORDER BY published_position",
				  1, &argtype, &arg, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *column = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *type = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		ListCell   *ln,
				   *lt;
		bool		found = false;

		forboth(ln, names, lt, types)
		{
			if (strcmp(lfirst(ln), column) != 0)
				continue;
			found = true;
			if (!mesh_type_widens(type, lfirst(lt)))
				mesh_contract_refuse(product_id, column, "change the type of",
									 psprintf("CREATE OR REPLACE VIEW would change its type from %s to %s.",
											  type, (char *) lfirst(lt)));
		}
		if (!found)
			mesh_contract_refuse(product_id, column, "remove",
								 "CREATE OR REPLACE VIEW would leave the view without the column (dropped or renamed).");
	}
	mesh_spi_end(&spi);
}
