/*
 * ddl.c
 *		The DDL guard: object_access_hook and ProcessUtility_hook keep the
 *		catalog right when the objects it names change, and refuse changes
 *		that would break a published product or switch off its guard.
 *
 *	- Dropping the relation or a column of a published or deprecated
 *	  product is refused, however it is reached (DROP TABLE, DROP SCHEMA
 *	  CASCADE, DROP OWNED, a cascade from a dropped dependency).  For a
 *	  draft or retired product, the drop cleans the catalog up.
 *	- A domain's schema cannot be dropped, renamed or given away except
 *	  through meshpg's domain functions.
 *	- A product's relation cannot leave its domain's schema.
 *	- Renaming a product column renames its documentation.
 *	- meshpg's guard policy cannot be dropped or altered, nor row security
 *	  disabled, on a registered table.
 *	- A dropped role loses its grants, attributes and policy exemptions, so a
 *	  later role that reuses the OID does not inherit them.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_depend.h"
#include "commands/extension.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_proc.h"
#include "utils/regproc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "tcop/cmdtag.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/citus/citus.h"
#include "meshpg/contract/contract.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"
#include "meshpg/meshpg.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/icu.h"

/*
 * The product whose DDL this guard checks.  On a Citus worker, none: DDL
 * there is Citus applying what the coordinator's guard already checked
 * (Citus refuses DDL on distributed tables from anywhere else), and the
 * guard's bookkeeping would write the worker's copy of the catalog, which
 * only the coordinator's sends may change (a send in the same distributed
 * transaction would wait on those rows: a deadlock).  A shard is not a
 * product's relation for DDL either.
 */
static const MeshProduct *
ddl_product_by_relid(Oid relid)
{
	const MeshProduct *product;

	if (mesh_citus_is_worker())
		return NULL;
	product = mesh_product_by_relid(relid);
	return product != NULL && product->citus_shard ? NULL : product;
}

/*
 * The product whose own relation is relid (not a partition or child of one,
 * so that no ancestor walk runs per dropped relation), or NULL, as above.
 */
static const MeshProduct *
ddl_product_itself(Oid relid)
{
	return mesh_citus_is_worker() ? NULL : mesh_product_itself(relid);
}

static bool
is_served(const MeshProduct *product)
{
	return product->state == MESH_PUBLISHED || product->state == MESH_DEPRECATED;
}

static void
forget_dropped_product(const MeshProduct *product)
{
	MeshSpiState spi;
	MeshProductRow row;
	char	   *qualname = pstrdup(product->qualname);

	mesh_spi_begin(&spi);
	mesh_resolve_product(qualname, true, &row);
	mesh_unregister(&row, false);
	mesh_spi_end(&spi);
}

static void
forget_dropped_column(const MeshProduct *product, const char *column)
{
	MeshSpiState spi;
	int64		id = product->id;

	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_column WHERE product_id = $1 AND name = $2",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(column)}, NULL);
	/* Its tags and the policies bound to it go with it. */
	mesh_spi_exec("DELETE FROM meshpg.cat_column_tag WHERE product_id = $1 AND column_name = $2",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(column)}, NULL);
	mesh_spi_exec("DELETE FROM meshpg.cat_policy WHERE product_id = $1 AND column_name = $2",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(column)}, NULL);
	mesh_refresh_search_product(id);
	mesh_spi_end(&spi);
}

static void
forget_dropped_role(Oid roleid)
{
	MeshSpiState spi;

	Datum		arg = ObjectIdGetDatum(roleid);
	Oid			argtype = OIDOID;

	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_grant WHERE grantee::oid = $1", 1, &argtype, &arg, NULL);
	mesh_spi_exec("DELETE FROM meshpg.cat_attribute WHERE role::oid = $1", 1, &argtype, &arg, NULL);
	mesh_spi_exec("UPDATE meshpg.cat_policy SET exempt_roles = array_remove(exempt_roles, $1::regrole) "
				  " WHERE $1::regrole = ANY (exempt_roles)", 1, &argtype, &arg, NULL);
	mesh_spi_end(&spi);
}

static void
guard_relation_drop(Oid relid, int attnum)
{
	const MeshProduct *product = ddl_product_itself(relid);
	char	   *column;

	/* Partitions and children of a product come and go with the data. */
	if (product == NULL || product->inherited)
		return;

	if (attnum == 0)
	{
		if (is_served(product))
		{
			int64		id = product->id;
			char	   *qualname = pstrdup(product->qualname);
			const char *state = product->state == MESH_PUBLISHED ? "published" : "deprecated";

			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop relation \"%s\" because it is the output port of %s data product \"%s\" version %s",
							get_rel_name(relid), state, qualname, mesh_product_version(id)),
					 errdetail("Consumers rely on the published contract until the product is retired; this holds for superusers and for drops that cascade from other objects."),
					 errhint("Publish its replacement as a new major version with meshpg.publish_version(), then retire this one with meshpg.retire() after its sunset date.")));
		}
		forget_dropped_product(product);
		return;
	}

	column = get_attname(relid, attnum, true);
	if (column == NULL)
		return;
	if (is_served(product))
		mesh_contract_refuse(product->id, column, "drop",
							 "Dropping it, directly or by a cascade from another object, breaks the contract.");
	forget_dropped_column(product, column);
}

static void
guard_schema_drop(Oid nsp)
{
	char	   *domain;
	Oid			owner;

	if (mesh_domain_by_nsp(nsp, &domain, &owner))
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop schema \"%s\" because it belongs to domain \"%s\"",
						get_namespace_name(nsp), domain),
				 errhint("Use meshpg.drop_domain().")));
}

/* A function a policy calls cannot go while the policy stays. */
static void
guard_function_drop(Oid funcid)
{
	char	   *policy;

	if (get_func_namespace(funcid) == mesh_catalog()->nsp)
		return;					/* DROP EXTENSION meshpg */
	policy = mesh_spi_first_value("SELECT name FROM meshpg.cat_policy "
								  " WHERE $1::regprocedure = ANY (depends_functions) ORDER BY name LIMIT 1",
								  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(funcid)});
	if (policy != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop function %s because meshpg policy \"%s\" uses it",
						format_procedure(funcid), policy),
				 errhint("Drop the policy first with meshpg.drop_policy().")));
}

void
mesh_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				   int subId, void *arg, MeshHookStep next)
{
	mesh_next_object_access(access, classId, objectId, subId, arg, next);

	if (access != OAT_DROP || mesh_catalog() == NULL)
		return;

	if (classId == RelationRelationId)
		guard_relation_drop(objectId, subId);
	else if (classId == NamespaceRelationId)
		guard_schema_drop(objectId);
	else if (classId == AuthIdRelationId)
		forget_dropped_role(objectId);
	else if (classId == ProcedureRelationId)
		guard_function_drop(objectId);
}

static Oid
product_relid(RangeVar *rv)
{
	Oid			relid;
	const MeshProduct *product;

	if (rv == NULL)
		return InvalidOid;

	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return InvalidOid;
	product = ddl_product_itself(relid);
	if (product == NULL)
		return InvalidOid;
	return relid;
}

static void
refuse_guard_change(RangeVar *rv, const char *policy)
{
	Oid			relid;

	/* meshpg's own upgrade scripts rewrite the guard (1.3: no relation name) */
	if (creating_extension)
		return;
	relid = product_relid(rv);
	if (OidIsValid(relid) && strcmp(policy, MESH_GUARD_POLICY) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("policy \"%s\" on relation \"%s\" belongs to meshpg", policy,
						get_rel_name(relid)),
				 errdetail("It keeps the data product unreadable whenever meshpg is not loaded.")));
}

/*
 * REASSIGN OWNED would hand a domain's schema to another role behind the
 * catalog's back; alter_domain is the way.
 */
static void
refuse_reassign(ReassignOwnedStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->roles)
	{
		Oid			role = get_rolespec_oid(lfirst(lc), true);
		char	   *domain;

		if (!OidIsValid(role))
			continue;
		domain = mesh_spi_first_value("SELECT name FROM meshpg.cat_domain WHERE owner::oid = $1 ORDER BY name LIMIT 1",
									  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(role)});
		if (domain != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot reassign objects owned by role \"%s\" because it owns domain \"%s\"",
							GetUserNameFromId(role, false), domain),
					 errhint("Use meshpg.alter_domain(name, owner => ...) to hand the domain over.")));
	}
}

/*
 * A domain's schema keeps its domain's name and owner; new_owner is the
 * owner an ALTER SCHEMA OWNER asks for (alter_domain records it first).
 */
static void
refuse_domain_schema(const char *schema, Oid new_owner, const char *action,
					 const char *instead)
{
	Oid			nsp = get_namespace_oid(schema, true);
	char	   *domain;
	Oid			owner;

	if (OidIsValid(nsp) && mesh_domain_by_nsp(nsp, &domain, &owner) &&
		(!OidIsValid(new_owner) || new_owner != owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s schema \"%s\" because it belongs to domain \"%s\"",
						action, schema, domain),
				 errhint("%s", instead)));
}

static bool published_column(int64 product_id, const char *column, char **type,
							 bool *nullable);

/*
 * Renaming a served product's relation or one of its published columns
 * breaks every consumer's query: refused before anything changes.
 */
static void
refuse_served_rename(Oid relid, const char *column)
{
	const MeshProduct *product;
	int64		id;
	char	   *qualname;

	if (!OidIsValid(relid) || !mesh_contracts_installed())
		return;
	product = ddl_product_by_relid(relid);
	if (product == NULL || product->inherited || !is_served(product))
		return;
	id = product->id;
	if (column != NULL)
	{
		if (published_column(id, column, NULL, NULL))
			mesh_contract_refuse(id, column, "rename",
								 "Consumers select it by its name.");
		return;
	}
	qualname = pstrdup(product->qualname);
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot rename relation \"%s\" of data product \"%s\" version %s",
					get_rel_name(relid), qualname, mesh_product_version(id)),
			 errdetail("Consumers query the data product by its relation's name."),
			 errhint("Publish a new major version with meshpg.publish_version() instead.")));
}

/*
 * A served product's published column types are part of its contract:
 * renaming such a type, or moving it to another schema, changes them.
 */
static void
refuse_type_change(List *names, ObjectType objtype, const char *action)
{
	Oid			typid;
	char	   *product;

	if ((objtype != OBJECT_TYPE && objtype != OBJECT_DOMAIN) || !mesh_contracts_installed())
		return;
	typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(names), true);
	if (!OidIsValid(typid))
		return;
	product = mesh_spi_first_value("SELECT d.name || '.' || p.name FROM meshpg.cat_product p "
								   "  JOIN meshpg.cat_domain d ON d.id = p.domain_id "
								   "  JOIN pg_catalog.pg_attribute a ON a.attrelid = p.relid "
								   " WHERE p.state IN ('published', 'deprecated') "
								   "   AND a.attnum > 0 AND NOT a.attisdropped "
								   "   AND a.atttypid IN ($1, (SELECT typarray FROM pg_catalog.pg_type WHERE oid = $1)) "
								   " ORDER BY 1 LIMIT 1",
								   1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(typid)});
	if (product != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot %s type %s because data product \"%s\" publishes a column of that type",
						action, format_type_be(typid), product),
				 errdetail("The type's name is part of the product's published contract."),
				 errhint("Publish a new major version with meshpg.publish_version() instead.")));
}

/* The published type and nullability of a column; false if unpublished. */
static bool
published_column(int64 product_id, const char *column, char **type, bool *nullable)
{
	MeshSpiState spi;
	bool		found;

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT published_type, published_nullable FROM meshpg.cat_column "
				  " WHERE product_id = $1 AND name = $2 AND published_type IS NOT NULL",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product_id), CStringGetTextDatum(column)}, NULL);
	found = SPI_processed > 0;
	if (found && type != NULL)
	{
		bool		isnull;

		*type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*nullable = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											   2, &isnull));
	}
	mesh_spi_end(&spi);
	return found;
}

/*
 * ALTER TABLE subcommands that would break a served product's contract,
 * refused before PostgreSQL rewrites anything.  Whatever gets past these
 * is compared with the contract after the statement (check_contracts).
 */
static void
check_contract_cmd(Oid relid, AlterTableCmd *cmd)
{
	const MeshProduct *product = ddl_product_by_relid(relid);
	int64		id;
	char	   *type;
	bool		nullable;

	if (product == NULL || !is_served(product) || cmd->name == NULL ||
		!mesh_contracts_installed())
		return;
	id = product->id;
	if (cmd->subtype == AT_AlterColumnType)
	{
		ColumnDef  *def = (ColumnDef *) cmd->def;
		Oid			typid;
		int32		typmod;
		char	   *new_type;
		int			nestlevel;

		if (!published_column(id, cmd->name, &type, &nullable))
			return;
		typenameTypeIdAndMod(NULL, def->typeName, &typid, &typmod);
		nestlevel = mesh_contract_pin_search_path();
		new_type = format_type_with_typemod(typid, typmod);
		mesh_contract_unpin_search_path(nestlevel);
		if (!mesh_type_widens(type, new_type))
			mesh_contract_refuse(id, cmd->name, "change the type of",
								 psprintf("ALTER COLUMN TYPE would change its type from %s to %s.",
										  type, new_type));
	}
	else if (cmd->subtype == AT_DropNotNull)
	{
		if (published_column(id, cmd->name, &type, &nullable) && !nullable)
			mesh_contract_refuse(id, cmd->name, "make nullable",
								 "DROP NOT NULL would let it hold nulls; the contract says it never does.");
	}
}

/*
 * The served products a statement may change the interface of: the
 * relation it names (or, for a partition or child, its product) and, for
 * ALTER TABLE and column renames, the products below it.
 */
static List *
contract_targets(Node *stmt)
{
	RangeVar   *rv = NULL;
	bool		recurse = false;
	Oid			relid;
	List	   *rels;
	List	   *ids = NIL;
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			rv = ((AlterTableStmt *) stmt)->relation;
			recurse = rv->inh;
			break;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_COLUMN)
			{
				rv = ((RenameStmt *) stmt)->relation;
				recurse = rv != NULL && rv->inh;
			}
			break;
		case T_ViewStmt:
			if (((ViewStmt *) stmt)->replace)
				rv = ((ViewStmt *) stmt)->view;
			break;
		case T_CommentStmt:
			{
				CommentStmt *cs = (CommentStmt *) stmt;
				List	   *names;

				if (cs->objtype == OBJECT_COLUMN)
				{
					names = castNode(List, cs->object);
					rv = makeRangeVarFromNameList(list_truncate(list_copy(names),
																list_length(names) - 1));
				}
				else if (cs->objtype == OBJECT_TABLE || cs->objtype == OBJECT_VIEW ||
						 cs->objtype == OBJECT_MATVIEW)
					rv = makeRangeVarFromNameList(castNode(List, cs->object));
				break;
			}
		default:
			break;
	}
	if (rv == NULL || !mesh_contracts_installed())
		return NIL;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return NIL;
	rels = recurse ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	foreach(lc, rels)
	{
		const MeshProduct *product = ddl_product_by_relid(lfirst_oid(lc));

		ListCell   *li;
		bool		seen = false;

		if (product == NULL || !is_served(product))
			continue;
		foreach(li, ids)
			seen |= *(int64 *) lfirst(li) == product->id;
		if (!seen)
		{
			int64	   *id = palloc(sizeof(int64));

			*id = product->id;
			ids = lappend(ids, id);
		}
	}
	return ids;
}

static void
check_contracts(List *ids, Node *stmt)
{
	ListCell   *lc;
	const char *tag = GetCommandTagName(CreateCommandTag(stmt));

	foreach(lc, ids)
		mesh_contract_check_after(*(int64 *) lfirst(lc), tag);
}

static bool
is_guarded(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_RenameStmt:
		case T_ReassignOwnedStmt:
		case T_AlterOwnerStmt:
		case T_AlterObjectSchemaStmt:
		case T_DropStmt:
		case T_AlterPolicyStmt:
		case T_AlterTableStmt:
		case T_ViewStmt:
		case T_CommentStmt:
			return true;
		default:
			return false;
	}
}

/* Checks that run before the statement; returns a column rename to apply after. */
static Oid
check_utility(Node *stmt, const char *queryString)
{
	switch (nodeTag(stmt))
	{
		case T_RenameStmt:
			{
				RenameStmt *rs = (RenameStmt *) stmt;

				if (rs->renameType == OBJECT_SCHEMA)
					refuse_domain_schema(rs->subname, InvalidOid, "rename",
										 "A domain's schema keeps the domain's name.");
				else if (rs->renameType == OBJECT_POLICY)
					refuse_guard_change(rs->relation, rs->subname);
				else if (rs->renameType == OBJECT_COLUMN && rs->relation != NULL)
				{
					Oid			relid = RangeVarGetRelid(rs->relation, NoLock, true);

					refuse_served_rename(relid, rs->subname);
					return relid;
				}
				else if (rs->relation != NULL && rs->subname == NULL)
					refuse_served_rename(product_relid(rs->relation), NULL);
				else if (rs->renameType == OBJECT_TYPE || rs->renameType == OBJECT_DOMAIN)
					refuse_type_change(castNode(List, rs->object), rs->renameType, "rename");
				break;
			}
		case T_ReassignOwnedStmt:
			refuse_reassign((ReassignOwnedStmt *) stmt);
			break;
		case T_AlterOwnerStmt:
			{
				AlterOwnerStmt *as = (AlterOwnerStmt *) stmt;

				if (as->objectType == OBJECT_SCHEMA)
					refuse_domain_schema(strVal(as->object),
										 get_rolespec_oid(as->newowner, true),
										 "change the owner of",
										 "Use meshpg.alter_domain(name, owner => ...).");
				break;
			}
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *as = (AlterObjectSchemaStmt *) stmt;
				Oid			relid = product_relid(as->relation);

				if (as->relation == NULL)
					refuse_type_change(castNode(List, as->object), as->objectType,
									   "move");

				if (OidIsValid(relid))
				{
					const MeshProduct *product = ddl_product_by_relid(relid);
					int64		id = product->id;
					char	   *qualname = pstrdup(product->qualname);

					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("cannot move relation \"%s\" out of its domain's schema",
									get_rel_name(relid)),
							 errdetail("It is the output port of data product \"%s\" version %s.",
									   qualname, mesh_product_version(id)),
							 errhint("Consumers query it by its schema; publish a new major version with meshpg.publish_version() instead.")));
				}
				break;
			}
		case T_DropStmt:
			{
				DropStmt   *ds = (DropStmt *) stmt;
				ListCell   *lc;

				if (ds->removeType != OBJECT_POLICY)
					break;
				foreach(lc, ds->objects)
				{
					List	   *names = lfirst(lc);

					refuse_guard_change(makeRangeVarFromNameList(list_truncate(list_copy(names),
																			   list_length(names) - 1)),
										strVal(llast(names)));
				}
				break;
			}
		case T_AlterPolicyStmt:
			{
				AlterPolicyStmt *ap = (AlterPolicyStmt *) stmt;

				refuse_guard_change(ap->table, ap->policy_name);
				break;
			}
		case T_ViewStmt:
			{
				ViewStmt   *vs = (ViewStmt *) stmt;
				Oid			relid = vs->replace ? product_relid(vs->view) : InvalidOid;
				const MeshProduct *product = OidIsValid(relid) ? ddl_product_by_relid(relid) : NULL;

				if (product != NULL && is_served(product) && mesh_contracts_installed())
					mesh_contract_check_view(vs, relid, product->id, queryString);
				break;
			}
		case T_AlterTableStmt:
			{
				AlterTableStmt *at = (AlterTableStmt *) stmt;
				ListCell   *lc;
				Oid			relid = product_relid(at->relation);

				if (!OidIsValid(relid))
					break;
				foreach(lc, at->cmds)
				{
					AlterTableCmd *cmd = lfirst(lc);

					check_contract_cmd(relid, cmd);
					if (cmd->subtype == AT_DisableRowSecurity)
						ereport(ERROR,
								(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
								 errmsg("cannot disable row security on relation \"%s\"",
										get_rel_name(relid)),
								 errdetail("It is the output port of data product \"%s\"; meshpg's guard needs row security.",
										   ddl_product_by_relid(relid)->qualname)));
				}
				break;
			}
		default:
			break;
	}
	return InvalidOid;
}

static void
policy_check_context(void *arg)
{
	errcontext("checking the policies of data product \"%s\" after the rename",
			   (char *) arg);
}

/*
 * After a column rename, the documentation follows the column, on the
 * renamed relation and on the inheritance children the rename reached
 * (whether or not the renamed relation is a product itself).
 */
static void
apply_column_rename(RenameStmt *rs, Oid relid)
{
	List	   *rels = rs->relation->inh ? find_all_inheritors(relid, NoLock, NULL)
		: list_make1_oid(relid);
	ListCell   *lc;
	MeshSpiState spi;
	bool		any = false;
	List	   *relids_renamed = NIL;

	foreach(lc, rels)
	{
		const MeshProduct *product = ddl_product_by_relid(lfirst_oid(lc));

		any |= product != NULL && !product->inherited;
	}
	if (!any)
		return;

	mesh_spi_begin(&spi);
	foreach(lc, rels)
	{
		const MeshProduct *product = ddl_product_by_relid(lfirst_oid(lc));
		int64		id;
		Datum		args[3];
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};

		if (product == NULL || product->inherited)
			continue;

		id = product->id;
		args[0] = Int64GetDatum(id);
		args[1] = CStringGetTextDatum(rs->subname);
		args[2] = CStringGetTextDatum(rs->newname);
		mesh_spi_exec("UPDATE meshpg.cat_column SET name = $3 WHERE product_id = $1 AND name = $2",
					  3, types, args, NULL);
		mesh_spi_exec("UPDATE meshpg.cat_column_tag SET column_name = $3 "
					  "WHERE product_id = $1 AND column_name = $2", 3, types, args, NULL);
		mesh_spi_exec("UPDATE meshpg.cat_policy SET column_name = $3 "
					  "WHERE product_id = $1 AND column_name = $2", 3, types, args, NULL);
		/* an aggregation or privacy policy's entity key, in its options */
		mesh_spi_exec("UPDATE meshpg.cat_policy "
					  "SET mask_args = jsonb_set(mask_args, '{entity_key}', to_jsonb($3)) "
					  "WHERE product_id = $1 AND kind IN ('aggregation', 'privacy') "
					  "AND mask_args->>'entity_key' = $2", 3, types, args, NULL);
		mesh_refresh_search_product(id);
		relids_renamed = lappend_oid(relids_renamed, lfirst_oid(lc));
	}
	mesh_spi_end(&spi);

	/*
	 * A policy expression may name the column: compile the products' policies
	 * again, so that a rename that would leave one unenforceable fails here.
	 */
	foreach(lc, relids_renamed)
	{
		const MeshProduct *product = ddl_product_by_relid(lfirst_oid(lc));
		ErrorContextCallback callback;

		if (product == NULL)
			continue;
		callback.callback = policy_check_context;
		callback.arg = pstrdup(product->qualname);
		callback.previous = error_context_stack;
		error_context_stack = &callback;
		(void) mesh_load_policies(product, lfirst_oid(lc));
		error_context_stack = callback.previous;
	}

}

/*
 * Nothing may call meshpg.mask_hash outside a query that a policy wrote
 * (see planner.c): a default, generated column, constraint, index, view,
 * rule or function body depending on it is refused when created.
 */
static void
refuse_hash_dependents(void)
{
	Oid			hash = mesh_mask_hash_oid();
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData keys[2];
	bool		found;

	if (!OidIsValid(hash))
		return;
	CommandCounterIncrement();
	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ProcedureRelationId));
	ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(hash));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, keys);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("meshpg.mask_hash cannot be used in a definition"),
				 errdetail("It is applied by masking policies only, so that no one can hash values of their choosing.")));
}

/* EXPLAIN ANALYZE: the planner hook refuses to plan filtered reads. */
static void
next_utility_explaining(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc,
						MeshHookStep next)
{
	mesh_explain_analyze_depth++;
	PG_TRY();
	{
		mesh_next_utility(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc, next);
	}
	PG_FINALLY();
	{
		mesh_explain_analyze_depth--;
	}
	PG_END_TRY();
}

void
mesh_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			 ProcessUtilityContext context, ParamListInfo params,
			 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc,
			 MeshHookStep next)
{
	Node	   *stmt = pstmt->utilityStmt;
	Oid			renamed = InvalidOid;
	List	   *contract_ids = NIL;
	bool		explain_analyze = mesh_is_explain_analyze(stmt);

	/* before the script's own check, which can't say what to do instead */
	if (IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "meshpg") == 0)
		mesh_require_utf8();

	/*
	 * Only the statements the guard cares about look at the catalog; some
	 * others (ROLLBACK) run in an aborted transaction, where it can't.
	 */
	if (is_guarded(stmt) && mesh_catalog() != NULL)
	{
		renamed = check_utility(stmt, queryString);
		contract_ids = contract_targets(stmt);
	}

	/* COPY of a governed relation goes through the planner, like a query. */
	if (IsA(stmt, CopyStmt))
	{
		Node	   *governed = mesh_govern_copy(stmt);

		if (governed != stmt)
		{
			PlannedStmt *copy = makeNode(PlannedStmt);

			memcpy(copy, pstmt, sizeof(PlannedStmt));
			copy->utilityStmt = governed;
			pstmt = copy;
		}
	}

	if (explain_analyze)
		next_utility_explaining(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc, next);
	else
		mesh_next_utility(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc, next);
	if (GetCommandLogLevel(stmt) == LOGSTMT_DDL && !creating_extension &&
		mesh_catalog() != NULL)
		refuse_hash_dependents();
	mesh_track_outer_user();

	if (contract_ids != NIL)
		check_contracts(contract_ids, stmt);
	if (OidIsValid(renamed))
		apply_column_rename((RenameStmt *) stmt, renamed);
}
