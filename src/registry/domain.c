/*
 * domain.c
 *		create_domain, alter_domain, drop_domain: the governance team hands
 *		each domain, with a schema of its own name, to an owner role.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "meshpg/meshpg.h"
#include "meshpg/events/events.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_create_domain);
PG_FUNCTION_INFO_V1(meshpg_alter_domain);
PG_FUNCTION_INFO_V1(meshpg_drop_domain);

static void
check_reserved(const char *name)
{
	if (strncmp(name, "pg_", 3) == 0 || strcmp(name, "meshpg") == 0 ||
		strcmp(name, "public") == 0 || strcmp(name, "information_schema") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("domain name \"%s\" is reserved", name),
				 errdetail("Names starting with \"pg_\", and \"meshpg\", \"public\" and \"information_schema\", are reserved.")));
}

/* Refuses a name whose ICU skeleton matches an existing domain's. */
static void
check_confusable_domain(const char *name, const char *skeleton)
{
	Datum		arg = CStringGetTextDatum(skeleton);
	Oid			argtype = TEXTOID;
	bool		isnull;

	if (!meshpg_confusable_check)
		return;
	mesh_spi_exec("SELECT name FROM meshpg.cat_domain WHERE skeleton = $1 ORDER BY name LIMIT 1",
				  1, &argtype, &arg, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("domain name \"%s\" is confusable with existing domain \"%s\"",
						name, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
																SPI_tuptable->tupdesc, 1, &isnull))),
				 errhint("Choose a name that cannot be mistaken for \"%s\".",
						 TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull)))));
}

/*
 * meshpg.create_domain(name, owner, description, contacts)
 */
Datum
meshpg_create_domain(PG_FUNCTION_ARGS)
{
	char	   *input = mesh_arg_text(fcinfo, 0, "domain name");
	Oid			owner = mesh_arg_role(fcinfo, 1, "owner");
	char	   *description = mesh_arg_text_opt(fcinfo, 2);
	bool		contacts_null;
	Datum		contacts = mesh_arg_text_array(fcinfo, 3, "contacts", &contacts_null);
	char	   *name;
	char	   *skeleton;
	MeshSpiState spi;
	Datum		args[6];
	char		nulls[6] = "      ";
	Oid			argtypes[6] = {TEXTOID, TEXTOID, REGROLEOID, REGNAMESPACEOID,
	TEXTOID, TEXTARRAYOID};
	Datum		namearg;
	Oid			texttype = TEXTOID;

	mesh_require_admin(GetUserId(), "create a domain");
	name = mesh_normalize_name(input, "domain", false);
	check_reserved(name);
	skeleton = mesh_name_skeleton(name);

	mesh_spi_begin(&spi);

	/* Serialise domain creation: the confusable check reads all names. */
	mesh_spi_exec("LOCK TABLE meshpg.cat_domain IN SHARE ROW EXCLUSIVE MODE",
				  0, NULL, NULL, NULL);

	namearg = CStringGetTextDatum(name);
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_domain WHERE name = $1",
				  1, &texttype, &namearg, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("domain \"%s\" already exists", name)));
	check_confusable_domain(name, skeleton);
	if (OidIsValid(get_namespace_oid(name, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_SCHEMA),
				 errmsg("schema \"%s\" already exists", name),
				 errdetail("A domain owns a new schema of its own name."),
				 errhint("Choose another domain name, or drop or rename the schema.")));

	mesh_spi_exec(psprintf("CREATE SCHEMA %s AUTHORIZATION %s",
						   quote_identifier(name),
						   quote_identifier(GetUserNameFromId(owner, false))),
				  0, NULL, NULL, NULL);
	mesh_spi_exec(psprintf("REVOKE ALL ON SCHEMA %s FROM PUBLIC", quote_identifier(name)),
				  0, NULL, NULL, NULL);

	args[0] = namearg;
	args[1] = CStringGetTextDatum(skeleton);
	args[2] = ObjectIdGetDatum(owner);
	args[3] = ObjectIdGetDatum(get_namespace_oid(name, false));
	if (description == NULL || description[0] == '\0')
		nulls[4] = 'n';
	else
		args[4] = CStringGetTextDatum(description);
	if (contacts_null)
		nulls[5] = 'n';
	else
		args[5] = contacts;
	mesh_spi_exec("INSERT INTO meshpg.cat_domain (name, skeleton, owner, nsp, description, contacts) "
				  "VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'))",
				  6, argtypes, args, nulls);
	{
		StringInfoData d;

		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "domain", name);
		mesh_event_data_text(&d, "owner", GetUserNameFromId(owner, false));
		mesh_event_data_text(&d, "schema", name);
		mesh_event_emit("meshpg.domain.created", name, mesh_event_data_end(&d));
	}

	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/*
 * Hands the schema and every relation in it to the new owner, so the new
 * team can read, change and grant its data; relations a member created
 * under its own name go too, since the schema is the domain's.  Indexes and
 * owned sequences follow their tables; other objects stay where they are.
 */
static void
transfer_ownership(const MeshDomain *domain, Oid new_owner)
{
	const char *newname = quote_identifier(GetUserNameFromId(new_owner, false));
	Datum		args[2] = {ObjectIdGetDatum(domain->nsp), ObjectIdGetDatum(new_owner)};
	Oid			argtypes[2] = {OIDOID, OIDOID};
	List	   *stmts = NIL;
	ListCell   *lc;

	mesh_spi_exec(psprintf("ALTER SCHEMA %s OWNER TO %s",
						   quote_identifier(domain->name), newname),
				  0, NULL, NULL, NULL);

	mesh_spi_exec("SELECT c.relname FROM pg_catalog.pg_class c "
				  " WHERE c.relnamespace = $1 AND c.relowner <> $2 "
				  "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.oid",
				  2, argtypes, args, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
		stmts = lappend(stmts,
						psprintf("ALTER TABLE %s OWNER TO %s",
								 quote_qualified_identifier(domain->name,
															SPI_getvalue(SPI_tuptable->vals[i],
																		 SPI_tuptable->tupdesc, 1)),
								 newname));
	foreach(lc, stmts)
		mesh_spi_exec(lfirst(lc), 0, NULL, NULL, NULL);
}

/*
 * meshpg.alter_domain(name, owner, description, contacts): NULL leaves a
 * field as it is; an empty description clears it.
 */
Datum
meshpg_alter_domain(PG_FUNCTION_ARGS)
{
	char	   *input = mesh_arg_text(fcinfo, 0, "domain name");
	Oid			owner = PG_ARGISNULL(1) ? InvalidOid : mesh_arg_role(fcinfo, 1, "owner");
	char	   *description = mesh_arg_text_opt(fcinfo, 2);
	bool		contacts_null;
	Datum		contacts = mesh_arg_text_array(fcinfo, 3, "contacts", &contacts_null);
	MeshSpiState spi;
	MeshDomain	domain;
	Datum		args[4];
	char		nulls[4] = "    ";
	Oid			argtypes[4] = {INT8OID, REGROLEOID, TEXTOID, TEXTARRAYOID};

	mesh_require_admin(GetUserId(), "alter a domain");

	mesh_spi_begin(&spi);
	mesh_resolve_domain(input, true, &domain);

	args[0] = Int64GetDatum(domain.id);
	args[1] = ObjectIdGetDatum(owner);
	if (!OidIsValid(owner))
		nulls[1] = 'n';
	if (description == NULL)
		nulls[2] = 'n';
	else
		args[2] = CStringGetTextDatum(description);
	if (contacts_null)
		nulls[3] = 'n';
	else
		args[3] = contacts;
	mesh_spi_exec("UPDATE meshpg.cat_domain SET owner = COALESCE($2, owner), "
				  "       description = CASE WHEN $3 IS NULL THEN description ELSE NULLIF($3, '') END, "
				  "       contacts = COALESCE($4, contacts), updated_at = now() "
				  " WHERE id = $1",
				  4, argtypes, args, nulls);
	/* After the update: the DDL guard lets the schema go to the recorded owner. */
	if (OidIsValid(owner) && owner != domain.owner)
	{
		transfer_ownership(&domain, owner);
		/* who is exempt as a member of the domain changed */
		mesh_invalidate_products(PRODUCTS_OF_DOMAIN, domain.id);
	}
	mesh_refresh_search_domain(domain.id);
	{
		StringInfoData d;
		StringInfoData changed;

		initStringInfo(&changed);
		appendStringInfoChar(&changed, '[');
		if (OidIsValid(owner) && owner != domain.owner)
			appendStringInfoString(&changed, "\"owner\"");
		if (description != NULL)
			appendStringInfo(&changed, "%s\"description\"", changed.len > 1 ? ", " : "");
		if (!contacts_null)
			appendStringInfo(&changed, "%s\"contacts\"", changed.len > 1 ? ", " : "");
		appendStringInfoChar(&changed, ']');
		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "domain", domain.name);
		mesh_event_data_text(&d, "owner",
							 GetUserNameFromId(OidIsValid(owner) ? owner : domain.owner, false));
		if (OidIsValid(owner) && owner != domain.owner)
			mesh_event_data_text(&d, "previous_owner", GetUserNameFromId(domain.owner, true));
		mesh_event_data_json(&d, "changed", changed.data);
		mesh_event_emit("meshpg.domain.changed", domain.name, mesh_event_data_end(&d));
	}

	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg.drop_domain(name, cascade): refuses while the domain has products;
 * with cascade, unregisters them and drops the schema with all it holds.
 */
Datum
meshpg_drop_domain(PG_FUNCTION_ARGS)
{
	char	   *input = mesh_arg_text(fcinfo, 0, "domain name");
	bool		cascade = mesh_arg_bool(fcinfo, 1, "cascade");
	MeshSpiState spi;
	MeshDomain	domain;
	Datum		arg;
	Oid			argtype = INT8OID;
	List	   *products = NIL;
	ListCell   *lc;

	mesh_require_admin(GetUserId(), "drop a domain");

	mesh_spi_begin(&spi);
	mesh_resolve_domain(input, true, &domain);

	arg = Int64GetDatum(domain.id);
	mesh_spi_exec("SELECT $2 || '.' || name FROM meshpg.cat_product WHERE domain_id = $1 ORDER BY name",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {arg, CStringGetTextDatum(domain.name)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
		products = lappend(products, SPI_getvalue(SPI_tuptable->vals[i],
												  SPI_tuptable->tupdesc, 1));
	if (products != NIL && !cascade)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop domain \"%s\" because it has data products", domain.name),
				 errdetail_plural("Domain \"%s\" has %d data product, \"%s\".",
								  "Domain \"%s\" has %d data products, among them \"%s\".",
								  list_length(products),
								  domain.name, list_length(products), (char *) linitial(products)),
				 errhint("Unregister them first, or call meshpg.drop_domain(..., cascade => true).")));

	{
		StringInfoData d;

		/* before the row goes, so that the event still finds its domain */
		mesh_event_data_start(&d);
		mesh_event_data_text(&d, "domain", domain.name);
		mesh_event_data_bool(&d, "cascade", cascade);
		mesh_event_data_int(&d, "products", list_length(products));
		mesh_event_emit("meshpg.domain.dropped", domain.name, mesh_event_data_end(&d));
	}
	foreach(lc, products)
	{
		MeshProductRow product;

		mesh_resolve_product(lfirst(lc), true, &product);
		mesh_unregister(&product, true);
	}

	/* The row goes first, so the DDL guard lets the schema go. */
	mesh_spi_exec("DELETE FROM meshpg.cat_domain WHERE id = $1", 1, &argtype, &arg, NULL);
	mesh_spi_exec(psprintf("DROP SCHEMA %s %s", quote_identifier(domain.name),
						   cascade ? "CASCADE" : "RESTRICT"),
				  0, NULL, NULL, NULL);

	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}
