/*
 * port.c
 *		Output ports as SQL: create, drop, resume, read and recreate; the
 *		compiler of a port's rules and the triggers that keep them right;
 *		the worker's watch over their lag (doc/ports.md).
 *
 * A port's rules are the consumer's rules on the product, as a SELECT by
 * that consumer without meshpg.purpose compiles them (policy/compile.c),
 * specialised once: attributes and current_user become constants.  They
 * are checked to be safe inside logical decoding (immutable expressions of
 * the row, no table reads), planned (SQL mask functions inlined) and
 * stored as node text in the port's row.  The plugin (plugin.c) cannot read
 * meshpg's ordinary tables under its historic snapshot, but cat_port is a
 * user_catalog_table: it reads there, for each change, the rules in force
 * when the change committed.  Every change of a policy, tag, attribute,
 * grant, product or of the product's table recompiles the ports in the
 * same transaction; a port whose rules can no longer be compiled safely is
 * suspended (never streamed raw), and one whose consumer lost its grant or
 * whose product was retired is ended.
 *
 * Slots: a logical slot cannot be created in a transaction that has written
 * anything, so every function here creates its slot before its first
 * write, and drops it again if the rest fails.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "replication/slot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/events/events.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"
#include "meshpg/ports/ports.h"

PG_FUNCTION_INFO_V1(meshpg_create_output_port);
PG_FUNCTION_INFO_V1(meshpg_drop_output_port);
PG_FUNCTION_INFO_V1(meshpg_resume_output_port);
PG_FUNCTION_INFO_V1(meshpg_port_recreate_slots);
PG_FUNCTION_INFO_V1(meshpg_port_changes);
PG_FUNCTION_INFO_V1(meshpg_port_peek);
PG_FUNCTION_INFO_V1(meshpg_ports_recompile_trigger);
PG_FUNCTION_INFO_V1(meshpg_ports_ddl);

int			mesh_port_max_lag = 1024;

/* the advisory lock create_output_port holds while its slot has no row yet */
#define PORT_CREATE_LOCK "SELECT pg_catalog.pg_advisory_xact_lock(7263350001)"
#define PORT_CREATE_TRYLOCK "SELECT pg_catalog.pg_try_advisory_xact_lock(7263350001)"

void
mesh_ports_init(void)
{
	/*
	 * SIGHUP: the limit protects the server's disk, so it is the DBA's, not
	 * a session's.
	 */
	DefineCustomIntVariable("meshpg.port_max_lag",
							"WAL an output port's slot may retain before the worker suspends the port.",
							"-1 turns the limit off. The suspended port's slot is dropped, so WAL cannot fill the disk.",
							&mesh_port_max_lag,
							1024, -1, INT_MAX / 2,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);
}

char *
mesh_port_compiled_here(void)
{
	return psprintf(UINT64_FORMAT "/%u", GetSystemIdentifier(), MyDatabaseId);
}

/* ----------------------------------------------------------------------
 * The compiler
 * ---------------------------------------------------------------------- */

typedef struct PortCompiled
{
	char	   *rules;			/* NULL: refused, see refusal */
	char	   *refusal;		/* why (for the port's reason) */
	char	   *refused_policy;
	char	   *detail;
	char	   *hint;
	int			sqlstate;
	bool		ended;			/* grant gone or product retired */
	bool		has_expiry;
	TimestampTz expires_at;
	char	   *product_name;
	char	   *product_version;
} PortCompiled;

/* meshpg's own mask functions: they run inside decoding as in SQL */
static bool
is_mesh_mask_function(Oid funcid)
{
	char	   *nsp = get_namespace_name(get_func_namespace(funcid));
	char	   *name = get_func_name(funcid);

	return nsp != NULL && name != NULL && strcmp(nsp, "meshpg") == 0 &&
		(strcmp(name, "mask_hash") == 0 || strcmp(name, "mask_email") == 0 ||
		 strcmp(name, "mask_partial") == 0 || strcmp(name, "mask_round") == 0 ||
		 strcmp(name, "mask_bucket") == 0 || strcmp(name, "mask_date") == 0);
}

typedef struct SafetyContext
{
	Oid			bad_function;
	const char *what;
} SafetyContext;

static bool
function_unsafe(Oid funcid, void *context)
{
	SafetyContext *ctx = context;

	if (func_volatile(funcid) == PROVOLATILE_IMMUTABLE || is_mesh_mask_function(funcid))
		return false;
	ctx->bad_function = funcid;
	return true;
}

/*
 * Whether expr can run inside logical decoding: an immutable expression of
 * the row's own columns.  A table read (subquery), a parameter, an
 * aggregate, a session value or a function that is not immutable cannot:
 * under a historic snapshot it would fail or answer for another time.
 */
static bool
unsafe_walker(Node *node, SafetyContext *ctx)
{
	if (node == NULL)
		return false;
	check_stack_depth();
	switch (nodeTag(node))
	{
		case T_SubLink:
		case T_SubPlan:
		case T_AlternativeSubPlan:
		case T_Query:
			ctx->what = "It reads a table (a subquery).";
			return true;
		case T_Param:
			ctx->what = "It takes a parameter.";
			return true;
		case T_Aggref:
		case T_WindowFunc:
		case T_GroupingFunc:
			ctx->what = "It aggregates rows.";
			return true;
		case T_NextValueExpr:
		case T_CurrentOfExpr:
		case T_SQLValueFunction:
			ctx->what = "It reads the session (the time, the user or a sequence).";
			return true;
		case T_Var:
			{
				Var		   *var = (Var *) node;

				if (var->varno != 1 || var->varlevelsup != 0 || var->varattno <= 0)
				{
					ctx->what = "It reads a system column or the whole row.";
					return true;
				}
				return false;
			}
		default:
			break;
	}
	if (check_functions_in_node(node, function_unsafe, ctx))
	{
		ctx->what = psprintf("It calls function %s, which is not immutable.",
							 format_procedure(ctx->bad_function));
		return true;
	}
	return expression_tree_walker(node, unsafe_walker, ctx);
}

static const char *
unsafe_reason(Node *expr)
{
	SafetyContext ctx = {InvalidOid, NULL};

	if (unsafe_walker(expr, &ctx))
		return ctx.what;
	return NULL;
}

static void
refuse(PortCompiled *out, int sqlstate, const char *policy, const char *message,
	   const char *detail, const char *hint)
{
	out->rules = NULL;
	out->sqlstate = sqlstate;
	out->refused_policy = policy ? pstrdup(policy) : NULL;
	out->refusal = pstrdup(message);
	out->detail = detail ? pstrdup(detail) : NULL;
	out->hint = hint ? pstrdup(hint) : NULL;
}

/*
 * The consumer's live grant: its latest expiry, or none.  Read fresh (this
 * may run in the transaction that revoked it).  False when there is none.
 */
static bool
live_grant(int64 product_id, Oid domain_owner, Oid consumer, bool *has_expiry,
		   TimestampTz *expires_at)
{
	*has_expiry = false;
	if (superuser_arg(consumer) || has_privs_of_role(consumer, domain_owner))
		return true;
	mesh_spi_exec("SELECT bool_or(expires_at IS NULL), max(expires_at) FROM meshpg.cat_grant "
				  " WHERE product_id = $1 AND pg_catalog.pg_has_role($2, grantee::oid, 'USAGE') "
				  "   AND (expires_at IS NULL OR expires_at > pg_catalog.now())",
				  2, (Oid[]) {INT8OID, OIDOID},
				  (Datum[]) {Int64GetDatum(product_id), ObjectIdGetDatum(consumer)}, NULL);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		forever = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (isnull)
			return false;
		if (!DatumGetBool(forever))
		{
			*has_expiry = true;
			*expires_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 2, &isnull));
		}
		return true;
	}
	return false;
}

/*
 * Checks each policy that applies to consumer on its own (so that the error
 * names it), then compiles the rules, with meshpg.purpose unset.
 */
static void
check_policies(MeshProduct *product, Relation rel, Oid consumer, PortCompiled *out,
			   MeshRules *rules)
{
	Oid			relid = RelationGetRelid(rel);
	int			natts = RelationGetNumberOfAttributes(rel);
	List	   *policies = mesh_load_policies(product, relid);
	ListCell   *lc;

	product->policies = policies;
	product->policies_loaded = true;
	product->compiled = NIL;
	foreach(lc, policies)
	{
		MeshPolicy *policy = lfirst(lc);
		const char *why;
		Node	   *expr = NULL;
		const char *unsafe;

		if (mesh_policy_exempt(product, policy, consumer, &why))
			continue;

		/*
		 * Neither a row filter nor a mask: a policy that limits how the
		 * product may be read (a column only filtered on, aggregates of
		 * large groups only, noise): a stream of rows cannot honour it.
		 */
		if (!policy->is_row && policy->mask == MASK_NONE)
		{
			refuse(out, ERRCODE_FEATURE_NOT_SUPPORTED, policy->name,
				   psprintf("policy \"%s\" cannot be applied to a stream of rows", policy->name),
				   "It limits how the product may be read (projection, aggregation or privacy), which only queries can honour.",
				   "Exempt the consumer from it, or let the consumer read the product through SQL.");
			return;
		}
		if (policy->is_row || policy->mask == MASK_CUSTOM)
			expr = mesh_instantiate_filter(product, policy, consumer);
		else if (policy->subject > 0 && policy->subject <= natts)
		{
			Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), policy->subject - 1);

			expr = (Node *) mesh_mask_expr(policy, rel,
										   makeVar(1, policy->subject, att->atttypid,
												   att->atttypmod, att->attcollation, 0));
		}
		if (expr == NULL)
			continue;
		unsafe = unsafe_reason(expr);
		if (unsafe != NULL)
		{
			refuse(out, ERRCODE_FEATURE_NOT_SUPPORTED, policy->name,
				   psprintf("policy \"%s\" cannot be applied inside logical decoding", policy->name),
				   unsafe,
				   "A port applies only immutable expressions of the product's columns and of the consumer's attributes: change the policy, exempt the consumer from it, or let the consumer read the product through SQL.");
			return;
		}
		if (policy->is_row && rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
		{
			refuse(out, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, policy->name,
				   psprintf("row policy \"%s\" filters data product \"%s\", whose table does not log whole old rows",
							policy->name, out->product_name),
				   "A port decides updates and deletes on the old row as well as the new one, and needs all of it in the WAL.",
				   psprintf("Run ALTER TABLE %s REPLICA IDENTITY FULL.",
							mesh_relation_name(relid)));
			return;
		}
	}
	mesh_compile_rules_from_policies(product, policies, relid, natts, consumer, rules);
}

static List *
policies_of(const MeshProduct *product)
{
	return product->policies;
}

/*
 * The role memberships the rules rest on, which no catalog trigger sees
 * change (GRANT and REVOKE of roles, ALTER ROLE ... SUPERUSER): whether
 * the consumer is a superuser (InvalidOid), has the privileges of the
 * domain's owner, of each exempt role, and of each role holding a live
 * grant.  Stored with the rules; the plugin and every read check them
 * again, and a port whose memberships changed streams nothing until it is
 * recompiled.
 */
static void
membership_signature(const MeshProduct *product, List *policies, Oid consumer,
					 int64 product_id, List **roles, List **held)
{
	ListCell   *lc;

	*roles = lappend_oid(*roles, InvalidOid);
	*held = lappend_int(*held, superuser_arg(consumer));
	*roles = lappend_oid(*roles, product->domain_owner);
	*held = lappend_int(*held, has_privs_of_role(consumer, product->domain_owner));
	foreach(lc, policies)
	{
		MeshPolicy *policy = lfirst(lc);

		for (int i = 0; i < policy->nexempt_roles; i++)
		{
			if (list_member_oid(*roles, policy->exempt_roles[i]))
				continue;
			*roles = lappend_oid(*roles, policy->exempt_roles[i]);
			*held = lappend_int(*held, has_privs_of_role(consumer, policy->exempt_roles[i]));
		}
	}
	mesh_spi_exec("SELECT DISTINCT grantee::oid FROM meshpg.cat_grant WHERE product_id = $1 "
				  "   AND (expires_at IS NULL OR expires_at > pg_catalog.now()) ORDER BY 1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			grantee = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1, &isnull));

		if (list_member_oid(*roles, grantee))
			continue;
		*roles = lappend_oid(*roles, grantee);
		*held = lappend_int(*held, has_privs_of_role(consumer, grantee));
	}
}

static void
check_policies_no_purpose(MeshProduct *product, Relation rel, Oid consumer,
						  PortCompiled *out, MeshRules *rules)
{
	char	   *saved_purpose = mesh_session_purpose;

	mesh_session_purpose = NULL;
	PG_TRY();
	{
		check_policies(product, rel, consumer, out, rules);
	}
	PG_FINALLY();
	{
		mesh_session_purpose = saved_purpose;
	}
	PG_END_TRY();
}

/*
 * Compiles the rules of consumer on the product whose relation is relid
 * (call inside mesh_spi_begin/end).  A refusal is returned, not raised:
 * creation raises it, a recompile suspends the port with it.
 */
static void
port_compile(int64 product_id, Oid relid, Oid consumer, const char *port_name,
			 PortCompiled *out)
{
	const MeshProduct *cached;
	MeshProduct product;
	Relation	rel;
	int			natts;
	List	   *types = NIL;
	List	   *typmods = NIL;
	List	   *masks = NIL;
	List	   *quals = NIL;
	MeshRules	rules;
	char	   *state;
	ListCell   *lc;

	memset(out, 0, sizeof(PortCompiled));

	/* a consumer role dropped since: the port ends (never fails the caller) */
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(consumer)))
	{
		out->ended = true;
		refuse(out, ERRCODE_UNDEFINED_OBJECT, NULL, "the port's consumer role was dropped", NULL, NULL);
		return;
	}

	/* the product as it is now in this transaction */
	mesh_spi_exec("SELECT p.state, d.name || '.' || p.name, p.version, d.owner::oid "
				  "  FROM meshpg.cat_product p JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE p.id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)}, NULL);
	if (SPI_processed != 1)
	{
		out->ended = true;
		refuse(out, ERRCODE_UNDEFINED_OBJECT, NULL, "the data product was dropped", NULL, NULL);
		return;
	}
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	out->product_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	out->product_version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	{
		bool		isnull;
		Oid			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 4, &isnull));

		if (strcmp(state, "retired") == 0 || strcmp(state, "draft") == 0)
		{
			out->ended = true;
			refuse(out, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, NULL,
				   psprintf("data product \"%s\" is %s", out->product_name, state), NULL, NULL);
			return;
		}
		if (!live_grant(product_id, owner, consumer, &out->has_expiry, &out->expires_at))
		{
			out->ended = true;
			refuse(out, ERRCODE_INSUFFICIENT_PRIVILEGE, NULL,
				   psprintf("role \"%s\" holds no live grant on data product \"%s\"",
							GetUserNameFromId(consumer, false), out->product_name),
				   NULL,
				   "Grant it access with meshpg.grant_access() first.");
			return;
		}
	}

	if (get_rel_relkind(relid) != RELKIND_RELATION)
	{
		refuse(out, ERRCODE_FEATURE_NOT_SUPPORTED, NULL,
			   psprintf("data product \"%s\" is not a table", out->product_name),
			   "Output ports stream the row changes of a plain table; views have none, and partitions would be decoded one by one.",
			   "Stream the table the product is built from as a product of its own, or read this one through SQL.");
		return;
	}
	cached = mesh_product_by_relid(relid);
	if (cached == NULL || cached->id != product_id)
	{
		refuse(out, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, NULL,
			   "the data product's relation is not governed as a product", NULL, NULL);
		return;
	}
	product = *cached;
	if (product.citus_table)
	{
		refuse(out, ERRCODE_FEATURE_NOT_SUPPORTED, NULL,
			   psprintf("data product \"%s\" is a Citus table", out->product_name),
			   "Its rows change on the worker nodes, whose WAL this server's slots do not decode.",
			   "Read the product through SQL.");
		return;
	}

	rel = relation_open(relid, AccessShareLock);
	natts = RelationGetNumberOfAttributes(rel);
	check_policies_no_purpose(&product, rel, consumer, out, &rules);
	if (out->refusal != NULL)
	{
		relation_close(rel, AccessShareLock);
		return;
	}

	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), i);
		Node	   *mask = NULL;

		types = lappend_oid(types, att->attisdropped ? InvalidOid : att->atttypid);
		typmods = lappend_int(typmods, att->atttypmod);
		if (!att->attisdropped && rules.masks[i] != NULL)
			mask = (Node *) expression_planner(rules.masks[i]);
		masks = lappend(masks, mask);
	}
	foreach(lc, rules.quals)
		quals = lappend(quals, expression_planner(lfirst(lc)));
	relation_close(rel, AccessShareLock);

	/* the planned forms too: inlining must not have brought anything in */
	{
		const char *unsafe = unsafe_reason((Node *) masks);

		if (unsafe == NULL)
			unsafe = unsafe_reason((Node *) quals);
		if (unsafe != NULL)
		{
			refuse(out, ERRCODE_FEATURE_NOT_SUPPORTED, NULL,
				   psprintf("the rules of output port \"%s\" cannot run inside logical decoding", port_name),
				   unsafe, NULL);
			return;
		}
	}
	{
		List	   *roles = NIL;
		List	   *held = NIL;

		membership_signature(&product, policies_of(&product), consumer, product_id, &roles, &held);
		out->rules = nodeToString(lappend(list_make5(types, typmods, masks, quals, roles), held));
	}
}

/* Raises a refusal (creation and resume). */
static void
raise_refusal(const PortCompiled *c)
{
	ereport(ERROR,
			(errcode(c->sqlstate),
			 errmsg("%s", c->refusal),
			 c->detail ? errdetail("%s", c->detail) : 0,
			 c->hint ? errhint("%s", c->hint) : 0));
}

/* ----------------------------------------------------------------------
 * Slots
 * ---------------------------------------------------------------------- */

/*
 * A port's slot: slot names are the cluster's, so the database is in it
 * (a restored copy beside its source gets slots of its own).
 */
static char *
port_slot_name(const char *port)
{
	return psprintf("%s%u_%s", MESH_PORT_SLOT_PREFIX, MyDatabaseId, port);
}

static bool
slot_exists(const char *slot)
{
	mesh_spi_exec("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 "
				  "   AND database = pg_catalog.current_database()",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(slot)}, NULL);
	return SPI_processed > 0;
}

static void
require_no_writes(const char *function)
{
	if (GetTopTransactionIdIfAny() != InvalidTransactionId)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s must run before anything is written in its transaction", function),
				 errdetail("It creates a logical replication slot, which PostgreSQL refuses in a transaction that has written."),
				 errhint("Call %s in a transaction of its own.", function)));
}

static void
require_logical(void)
{
	const char *allowed;

	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output ports need wal_level = logical"),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));

	/*
	 * Servers that list the libraries allowed as output plugins (Debian's
	 * 15.20 and later) must list meshpg: that is the DBA's decision.
	 */
	allowed = GetConfigOption("output_plugin_libraries", true, false);
	if (allowed != NULL)
	{
		char	   *copy = pstrdup(allowed);
		List	   *names = NIL;
		bool		listed = false;
		ListCell   *lc;

		if (SplitIdentifierString(copy, ',', &names))
			foreach(lc, names)
				listed |= strcmp(lfirst(lc), MESH_PORT_PLUGIN) == 0;
		if (!listed)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("output ports need meshpg in output_plugin_libraries"),
					 errdetail("The server lets only the libraries it lists decode as output plugins, and lists \"%s\".",
							   allowed),
					 errhint("Add meshpg to output_plugin_libraries in postgresql.conf and reload the server: its plugin streams only what each port's consumer may see.")));
	}
}

/* as the catalog owner (inside mesh_spi_begin), before any write */
static void
create_slot(const char *slot)
{
	mesh_spi_exec("SELECT pg_catalog.pg_create_logical_replication_slot($1, '" MESH_PORT_PLUGIN "')",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(slot)}, NULL);
}

static void
drop_slot_if_idle(const char *slot)
{
	mesh_spi_exec("SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
				  "  FROM pg_catalog.pg_replication_slots "
				  " WHERE slot_name = $1 AND NOT active",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(slot)}, NULL);
}

/* ----------------------------------------------------------------------
 * Events (the mesh events of doc/events.md, when the backbone is there)
 * ---------------------------------------------------------------------- */

/*
 * One event of the mesh (names and reasons only, never a row's value): its
 * subject is the product, its data the port and its consumer.
 */
static void
port_event(const char *type, const char *port, const char *product, Oid consumer,
		   const char *reason)
{
	StringInfoData data;

	initStringInfo(&data);
	appendStringInfoString(&data, "{\"port\":");
	escape_json(&data, port);
	appendStringInfoString(&data, ",\"consumer\":");
	escape_json(&data, GetUserNameFromId(consumer, true) ? GetUserNameFromId(consumer, true) : "");
	if (reason)
	{
		appendStringInfoString(&data, ",\"reason\":");
		escape_json(&data, reason);
	}
	appendStringInfoChar(&data, '}');
	mesh_event_emit(type, product, data.data);
}

/* ----------------------------------------------------------------------
 * The port's row
 * ---------------------------------------------------------------------- */

typedef struct PortRow
{
	int64		id;
	char	   *name;
	int64		product_id;
	Oid			relid;
	Oid			consumer;
	char	   *slot;
	char	   *state;
	char	   *reason;
	char	   *compiled_in;
	char	   *product_name;
	Oid			domain_owner;
	char	   *rules;
} PortRow;

static bool
read_port(const char *name, PortRow *out)
{
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	mesh_spi_exec("SELECT p.id, p.name, p.product_id, p.relid::oid, p.consumer::oid, p.slot_name, "
				  "       p.state, p.reason, p.compiled_in, p.product_name, d.owner::oid, p.rules "
				  "  FROM meshpg.cat_port p "
				  "  LEFT JOIN meshpg.cat_product pr ON pr.id = p.product_id "
				  "  LEFT JOIN meshpg.cat_domain d ON d.id = pr.domain_id "
				  " WHERE p.name = $1",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	out->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	out->name = SPI_getvalue(tup, desc, 2);
	out->product_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	out->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	out->consumer = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
	out->slot = SPI_getvalue(tup, desc, 6);
	out->state = SPI_getvalue(tup, desc, 7);
	out->reason = SPI_getvalue(tup, desc, 8);
	out->compiled_in = SPI_getvalue(tup, desc, 9);
	out->product_name = SPI_getvalue(tup, desc, 10);
	out->domain_owner = DatumGetObjectId(SPI_getbinval(tup, desc, 11, &isnull));
	if (isnull)
		out->domain_owner = InvalidOid;
	out->rules = SPI_getvalue(tup, desc, 12);
	return true;
}

static void
require_port(const char *name, PortRow *out)
{
	if (!read_port(name, out))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("output port \"%s\" does not exist", name),
				 errhint("List the ports with SELECT name FROM meshpg.output_ports.")));
}

/* The domain team of the port's product, or the governance team. */
static void
require_port_manager(Oid caller, const PortRow *port, bool consumer_too)
{
	if (mesh_is_admin(caller) ||
		(OidIsValid(port->domain_owner) && has_privs_of_role(caller, port->domain_owner)) ||
		(consumer_too && has_privs_of_role(caller, port->consumer)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for output port \"%s\"", port->name),
			 errdetail("Only the domain team of data product \"%s\" and the governance team manage its ports.",
					   port->product_name),
			 errhint("Ask a member of the owning domain's role.")));
}

/* Stores a compile's result in the port's row (state only moves toward ended). */
static bool
store_compiled(const PortRow *port, const PortCompiled *c, bool resume)
{
	const char *state = port->state;
	const char *reason = port->reason;
	Datum		args[9];
	char		nulls[9] = "         ";

	if (c->ended)
	{
		state = "ended";
		reason = c->refusal;
	}
	else if (c->rules == NULL)
	{
		if (strcmp(state, "active") == 0 || resume)
		{
			state = "suspended";
			reason = psprintf("%s%s%s", c->refusal, c->detail ? ": " : "", c->detail ? c->detail : "");
		}
	}
	else if (resume)
	{
		state = "active";
		reason = NULL;
	}

	args[0] = Int64GetDatum(port->id);
	args[1] = CStringGetTextDatum(state);
	if (reason)
		args[2] = CStringGetTextDatum(reason);
	else
		nulls[2] = 'n';
	if (c->rules)
		args[3] = CStringGetTextDatum(c->rules);
	else
		nulls[3] = 'n';
	args[4] = CStringGetTextDatum(mesh_port_compiled_here());
	if (c->has_expiry)
		args[5] = TimestampTzGetDatum(c->expires_at);
	else
		nulls[5] = 'n';
	if (c->product_name)
	{
		args[6] = CStringGetTextDatum(c->product_name);
		args[7] = CStringGetTextDatum(c->product_version);
	}
	else
		nulls[6] = nulls[7] = 'n';

	/*
	 * A suspended or ended port keeps its last rules (the row is the
	 * record of what was streamed); only an active one takes new ones.
	 */
	mesh_spi_exec("UPDATE meshpg.cat_port SET state = $2, reason = $3, "
				  "       rules = CASE WHEN $2 = 'active' THEN $4 ELSE rules END, "
				  "       compiled_in = CASE WHEN $2 = 'active' THEN $5 ELSE compiled_in END, "
				  "       compiled_at = CASE WHEN $2 = 'active' THEN pg_catalog.now() ELSE compiled_at END, "
				  "       grant_expires_at = $6, "
				  "       product_name = coalesce($7, product_name), "
				  "       product_version = coalesce($8, product_version) "
				  " WHERE id = $1 AND (state IS DISTINCT FROM $2 OR reason IS DISTINCT FROM $3 "
				  "   OR ($2 = 'active' AND (rules IS DISTINCT FROM $4 OR compiled_in IS DISTINCT FROM $5)) "
				  "   OR grant_expires_at IS DISTINCT FROM $6 "
				  "   OR product_version IS DISTINCT FROM coalesce($8, product_version))",
				  8, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID},
				  args, nulls);
	if (SPI_processed > 0 && strcmp(state, port->state) != 0)
		port_event(strcmp(state, "active") == 0 ? "meshpg.port.resumed" : "meshpg.port.suspended",
				   port->name, port->product_name, port->consumer, reason);
	return strcmp(state, "active") == 0;
}

/* Recompiles every port that is not ended (inside mesh_spi_begin/end). */
static void
recompile_all(void)
{
	List	   *names = NIL;
	ListCell   *lc;

	mesh_spi_exec("SELECT name FROM meshpg.cat_port WHERE state <> 'ended' ORDER BY id",
				  0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	foreach(lc, names)
	{
		PortRow		port;
		PortCompiled c;

		if (!read_port(lfirst(lc), &port))
			continue;
		port_compile(port.product_id, port.relid, port.consumer, port.name, &c);
		store_compiled(&port, &c, false);
	}
}

static bool
any_port(void)
{
	const MeshCatalog *cat = mesh_catalog();

	if (cat == NULL || !OidIsValid(get_relname_relid("cat_port", cat->nsp)))
		return false;
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_port WHERE state <> 'ended' LIMIT 1", 0, NULL, NULL, NULL);
	return SPI_processed > 0;
}

/* AFTER ... FOR EACH STATEMENT on the tables whose rows shape the rules */
Datum
meshpg_ports_recompile_trigger(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._ports_recompile() must be called as a trigger")));
	/* the statement's own changes (and their invalidations) first */
	CommandCounterIncrement();
	mesh_spi_begin(&spi);
	if (any_port())
		recompile_all();
	mesh_spi_end(&spi);
	return PointerGetDatum(NULL);
}

/* ddl_command_end of ALTER TABLE: a product's columns or identity changed */
Datum
meshpg_ports_ddl(PG_FUNCTION_ARGS)
{
	MeshSpiState spi;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._ports_ddl() must be called as an event trigger")));
	if (mesh_catalog() == NULL)
		PG_RETURN_VOID();
	mesh_spi_begin(&spi);
	if (any_port())
		recompile_all();
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * The SQL surface
 * ---------------------------------------------------------------------- */

static void
check_port_name(const char *name)
{
	int			len = strlen(name);
	bool		ok = len > 0 && len <= 40 && name[0] >= 'a' && name[0] <= 'z';

	for (int i = 0; ok && i < len; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
			name[i] == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid output port name \"%s\"", name),
				 errhint("A port name is 1 to 40 lower-case letters, digits and underscores, starting with a letter: it names the port's replication slot too.")));
}

/* meshpg.create_output_port(product, consumer, name) */
Datum
meshpg_create_output_port(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	Oid			consumer = mesh_arg_role(fcinfo, 1, "consumer");
	char	   *name = mesh_arg_text(fcinfo, 2, "port name");
	char	   *slot;
	MeshSpiState spi;
	MeshProductRow product;
	PortCompiled c;

	check_port_name(name);
	require_logical();
	require_no_writes("meshpg.create_output_port()");
	slot = port_slot_name(name);

	mesh_spi_begin(&spi);
	/* no FOR UPDATE: a row lock is a write, and the slot must come first */
	mesh_resolve_product(ref, false, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	if (product.state != MESH_PUBLISHED && product.state != MESH_DEPRECATED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot create an output port on data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errhint("Only published and deprecated data products have consumers.")));
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_port WHERE name = $1",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("output port \"%s\" already exists", name),
				 errhint("Choose another name, or drop it with meshpg.drop_output_port().")));

	port_compile(product.id, product.relid, consumer, name, &c);
	if (c.rules == NULL)
		raise_refusal(&c);

	mesh_spi_exec(PORT_CREATE_LOCK, 0, NULL, NULL, NULL);
	if (slot_exists(slot))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("replication slot \"%s\" already exists", slot),
				 errdetail("Output port \"%s\" would stream through a slot of that name.", name),
				 errhint("Drop the slot with pg_drop_replication_slot(), or choose another port name.")));
	create_slot(slot);

	PG_TRY();
	{
		Datum		args[11];
		char		nulls[11] = "           ";

		args[0] = CStringGetTextDatum(name);
		args[1] = Int64GetDatum(product.id);
		args[2] = ObjectIdGetDatum(product.relid);
		args[3] = ObjectIdGetDatum(consumer);
		args[4] = CStringGetTextDatum(slot);
		args[5] = CStringGetTextDatum(c.rules);
		args[6] = CStringGetTextDatum(mesh_port_compiled_here());
		if (c.has_expiry)
			args[7] = TimestampTzGetDatum(c.expires_at);
		else
			nulls[7] = 'n';
		args[8] = CStringGetTextDatum(c.product_name);
		args[9] = CStringGetTextDatum(c.product_version);
		args[10] = CStringGetTextDatum(GetUserNameFromId(spi.userid, false));
		mesh_spi_exec("INSERT INTO meshpg.cat_port (name, product_id, relid, consumer, slot_name, "
					  "  rules, compiled_in, compiled_at, grant_expires_at, product_name, product_version, created_by) "
					  "VALUES ($1, $2, $3::oid::regclass, $4::oid::regrole, $5, $6, $7, pg_catalog.now(), $8, $9, $10, $11)",
					  11, (Oid[]) {TEXTOID, INT8OID, OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
						  TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID},
					  args, nulls);
		port_event("meshpg.port.created", name, c.product_name, consumer, NULL);
	}
	PG_CATCH();
	{
		/* the slot is not transactional: take it back */
		ReplicationSlotDrop(slot, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/* meshpg.drop_output_port(name) */
Datum
meshpg_drop_output_port(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MeshSpiState spi;
	PortRow		port;

	mesh_spi_begin(&spi);
	require_port(name, &port);
	require_port_manager(spi.userid, &port, true);
	mesh_spi_exec("DELETE FROM meshpg.cat_port WHERE id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(port.id)}, NULL);
	/* a slot being streamed goes when its reader stops (the worker) */
	drop_slot_if_idle(port.slot);
	port_event("meshpg.port.dropped", port.name, port.product_name, port.consumer, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.resume_output_port(name): a suspended port streams again */
Datum
meshpg_resume_output_port(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MeshSpiState spi;
	PortRow		port;
	PortCompiled c;
	bool		created = false;

	require_logical();
	require_no_writes("meshpg.resume_output_port()");
	mesh_spi_begin(&spi);
	require_port(name, &port);
	require_port_manager(spi.userid, &port, false);
	/* an active port is compiled again (after a change of role memberships) */
	if (strcmp(port.state, "ended") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output port \"%s\" is ended", name),
				 errhint("An ended port stays ended: create a new one.")));
	port_compile(port.product_id, port.relid, port.consumer, port.name, &c);
	if (c.rules == NULL)
		raise_refusal(&c);
	mesh_spi_exec(PORT_CREATE_LOCK, 0, NULL, NULL, NULL);
	if (!slot_exists(port.slot))
	{
		create_slot(port.slot);
		created = true;
	}
	PG_TRY();
	{
		store_compiled(&port, &c, true);
	}
	PG_CATCH();
	{
		if (created)
			ReplicationSlotDrop(port.slot, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text("active"));
}

static void
create_slots_and_recompile(List *slots, List **created)
{
	ListCell   *lc;

	PG_TRY();
	{
		foreach(lc, slots)
		{
			create_slot(lfirst(lc));
			*created = lappend(*created, lfirst(lc));
		}
		/* rows restored from elsewhere name their source's slots */
		mesh_spi_exec("UPDATE meshpg.cat_port SET slot_name = $1 || name "
					  " WHERE state <> 'ended' AND slot_name <> $1 || name",
					  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(port_slot_name(""))}, NULL);
		recompile_all();
	}
	PG_CATCH();
	{
		/* slots are not transactional: take back those made here */
		foreach(lc, *created)
			ReplicationSlotDrop(lfirst(lc), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * meshpg.port_recreate_slots(): after a restore or a lost slot, creates the
 * slots of the ports that have none and recompiles every port here.  The
 * streams start again from now: what changed in between is not streamed.
 */
Datum
meshpg_port_recreate_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MeshSpiState spi;
	List	   *missing = NIL;
	List	  **created = palloc0(sizeof(List *));	/* outlives a longjmp */
	ListCell   *lc;

	require_logical();
	require_no_writes("meshpg.port_recreate_slots()");
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	mesh_spi_begin(&spi);
	mesh_require_admin(spi.userid, "recreate the slots of output ports");
	mesh_spi_exec(PORT_CREATE_LOCK, 0, NULL, NULL, NULL);
	mesh_spi_exec("SELECT p.name FROM meshpg.cat_port p WHERE p.state <> 'ended' ORDER BY 1",
				  0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
		missing = lappend(missing, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	{
		List	   *slots = NIL;

		foreach(lc, missing)
		{
			char	   *slot = port_slot_name(lfirst(lc));

			if (!slot_exists(slot))
				slots = lappend(slots, slot);
		}
		missing = slots;
	}
	create_slots_and_recompile(missing, created);
	mesh_spi_end(&spi);
	foreach(lc, *created)
	{
		Datum		v = CStringGetTextDatum(lfirst(lc));
		bool		n = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &n);
	}
	return (Datum) 0;
}

/*
 * port_changes and port_peek: at every call, the caller must be the port's
 * consumer (or act as it), the port active and compiled here, and the
 * consumer's grant alive; then the slot is read as the catalog owner.
 */
static Datum
port_read(FunctionCallInfo fcinfo, bool peek)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = mesh_arg_text(fcinfo, 0, "port");
	MeshSpiState spi;
	PortRow		port;
	const MeshProduct *product;
	Datum		args[2];
	char		nulls[2] = "  ";

	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("upto must not be negative"),
				 errhint("Pass NULL to read every change available.")));
	InitMaterializedSRF(fcinfo, 0);
	mesh_spi_begin(&spi);
	require_port(name, &port);
	if (!has_privs_of_role(spi.userid, port.consumer))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for output port \"%s\"", name),
				 errdetail("Only its consumer, role \"%s\", reads it.",
						   GetUserNameFromId(port.consumer, true) ? GetUserNameFromId(port.consumer, true) : "(dropped)"),
				 errhint("Ask the owning domain team for a port of your own.")));
	if (strcmp(port.state, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output port \"%s\" is %s", name, port.state),
				 port.reason ? errdetail("%s", port.reason) : 0,
				 strcmp(port.state, "suspended") == 0 ?
				 errhint("The owning domain team resumes it with meshpg.resume_output_port().") :
				 errhint("An ended port stays ended: ask the owning domain team for a new one.")));
	product = mesh_product_by_relid(port.relid);
	if (product == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output port \"%s\" streams a relation that is no longer a data product", name)));
	(void) mesh_may_read(product, port.consumer, true);

	if (port.compiled_in == NULL || strcmp(port.compiled_in, mesh_port_compiled_here()) != 0 ||
		!slot_exists(port.slot))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("output port \"%s\" has no slot in this database", name),
				 errdetail("Slots are not dumped: after a restore, or once a slot is lost, the port needs a new one."),
				 errhint("A member of meshpg_admin runs SELECT meshpg.port_recreate_slots().")));

	/*
	 * The rules as they would be compiled now must be the stored ones: role
	 * memberships change without any catalog trigger seeing it (the plugin
	 * streams nothing then, and reads are refused until recompiled).
	 */
	{
		PortCompiled now;

		port_compile(port.product_id, port.relid, port.consumer, port.name, &now);
		if (now.rules == NULL || port.rules == NULL || strcmp(now.rules, port.rules) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the rules of output port \"%s\" changed since it was compiled", name),
					 errdetail("%s", now.rules == NULL ? now.refusal :
							   "The consumer's rules compiled now differ from the port's: a role membership of the consumer changed."),
					 errhint("The owning domain team compiles it again with meshpg.resume_output_port().")));
	}

	args[0] = CStringGetTextDatum(port.slot);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		args[1] = Int32GetDatum(PG_GETARG_INT32(1));
	mesh_spi_exec(peek ?
				  "SELECT lsn, xid, data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, $2)" :
				  "SELECT lsn, xid, data FROM pg_catalog.pg_logical_slot_get_changes($1, NULL, $2)",
				  2, (Oid[]) {TEXTOID, INT4OID}, args, nulls);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[3];
		bool		isnull[3];

		for (int j = 0; j < 3; j++)
			values[j] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, j + 1, &isnull[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	mesh_spi_end(&spi);
	return (Datum) 0;
}

Datum
meshpg_port_changes(PG_FUNCTION_ARGS)
{
	return port_read(fcinfo, false);
}

Datum
meshpg_port_peek(PG_FUNCTION_ARGS)
{
	return port_read(fcinfo, true);
}

/* ----------------------------------------------------------------------
 * The worker's watch: lag and orphaned slots
 * ---------------------------------------------------------------------- */
bool
mesh_ports_watch_task(void)
{
	const MeshCatalog *cat = mesh_catalog();
	MeshSpiState spi;
	List	   *lagging = NIL;
	ListCell   *lc;

	if (cat == NULL || !OidIsValid(get_relname_relid("cat_port", cat->nsp)))
		return false;
	mesh_spi_begin(&spi);

	/* ports whose slot holds more WAL than the limit: suspended, slot dropped */
	if (mesh_port_max_lag >= 0)
	{
		mesh_spi_exec("SELECT p.name FROM meshpg.cat_port p "
					  "  JOIN pg_catalog.pg_replication_slots s ON s.slot_name = p.slot_name "
					  " WHERE p.state = 'active' AND s.restart_lsn IS NOT NULL "
					  "   AND pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn) "
					  "       > $1::numeric * 1048576 ORDER BY p.id",
					  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(mesh_port_max_lag)}, NULL);
		for (uint64 i = 0; i < SPI_processed; i++)
			lagging = lappend(lagging, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		foreach(lc, lagging)
		{
			PortRow		port;
			char	   *reason;

			if (!read_port(lfirst(lc), &port))
				continue;
			reason = psprintf("its slot retained more than meshpg.port_max_lag (%d MB) of WAL",
							  mesh_port_max_lag);
			mesh_spi_exec("UPDATE meshpg.cat_port SET state = 'suspended', reason = $2 WHERE id = $1",
						  2, (Oid[]) {INT8OID, TEXTOID},
						  (Datum[]) {Int64GetDatum(port.id), CStringGetTextDatum(reason)}, NULL);
			port_event("meshpg.port.suspended", port.name, port.product_name, port.consumer, reason);
		}
		/*
		 * The slots past the limit, once no one streams them: those just
		 * suspended, those of ports suspended for another reason (a
		 * policy; resuming makes a new slot) and those of ended ports,
		 * whose slots keep WAL as well.
		 */
		mesh_spi_exec("SELECT pg_catalog.pg_drop_replication_slot(s.slot_name) "
					  "  FROM meshpg.cat_port p "
					  "  JOIN pg_catalog.pg_replication_slots s ON s.slot_name = p.slot_name "
					  " WHERE p.state IN ('suspended', 'ended') AND NOT s.active AND s.restart_lsn IS NOT NULL "
					  "   AND pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn) "
					  "       > $1::numeric * 1048576",
					  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(mesh_port_max_lag)}, NULL);
	}


	/*
	 * Slots of meshpg's plugin in this database with no port (the port or
	 * its product was dropped while the slot was streamed): not while a
	 * port is being created, whose slot has no committed row yet.
	 */
	mesh_spi_exec(PORT_CREATE_TRYLOCK, 0, NULL, NULL, NULL);
	if (SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool) {false})))
		mesh_spi_exec("SELECT pg_catalog.pg_drop_replication_slot(s.slot_name) "
					  "  FROM pg_catalog.pg_replication_slots s "
					  " WHERE s.plugin = '" MESH_PORT_PLUGIN "' AND s.database = pg_catalog.current_database() "
					  "   AND NOT s.active AND s.slot_name LIKE '" MESH_PORT_SLOT_PREFIX "%' "
					  "   AND NOT EXISTS (SELECT 1 FROM meshpg.cat_port p WHERE p.slot_name = s.slot_name)",
					  0, NULL, NULL, NULL);
	mesh_spi_end(&spi);
	return false;
}
