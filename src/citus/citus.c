/*
 * citus.c
 *		meshpg on a Citus cluster.
 *
 * Citus keeps a distributed table's rows in shards (ordinary tables named
 * <table>_<shardid>) on the workers, and on the coordinator too when it
 * holds placements (reference tables, Citus local tables).  meshpg governs
 * rows where they are read: a shard, or any placement of it, is governed as
 * the product whose Citus table it belongs to (catalog/cache.c), on every
 * node, for the role that reads it there.  The coordinator's own query on
 * the Citus table only routes (governance/planner.c).
 *
 * Citus is not a build dependency: its functions are looked up in the
 * library the server already loaded, and only when the citus library is
 * preloaded (otherwise looking them up would load it, and Citus refuses
 * to be loaded that way).
 *
 * The catalog reaches the other nodes inside the transaction that changes
 * it: every statement that writes a governance table sends the whole
 * governance catalog, as JSON, to every node with Citus metadata, over
 * Citus's coordinated transaction (two-phase commit), on a connection of
 * the Citus extension owner (meshpg._citus_receive_catalog accepts it only
 * from a superuser).  Relations, roles and schemas travel as names, so
 * each node maps them to its own OIDs.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/citus/citus.h"
#include "meshpg/hooks.h"
#include "meshpg/policy/policy.h"

typedef bool (*bool_void_fn) (void);
typedef bool (*bool_oid_fn) (Oid);
typedef uint64 (*shardid_fn) (const char *, bool);
typedef Oid (*shardrel_fn) (int64, bool);
typedef int32 (*groupid_fn) (void);
typedef void (*send_fn) (const char *);

static struct
{
	int			state;			/* 0 unknown, 1 preloaded, -1 absent */
	bool_void_fn has_been_loaded;
	bool_oid_fn is_citus_table;
	shardid_fn shard_id_from_name;
	shardrel_fn shard_relation;
	bool_void_fn internal_backend;
	groupid_fn local_group;
	send_fn send_as_owner;
} citus = {0};

/* In this transaction (see mesh_citus_sync_main) */
static bool topology_in_xact = false;	/* a Citus topology call ran */
static bool sent_in_xact = false;	/* the catalog was sent */
static bool sync_callback_registered = false;
static bool catalog_pending = false;	/* changed, not sent yet */
static void sync_xact_callback(XactEvent event, void *arg);

/* Whether the citus library is preloaded; binds its functions once. */
static bool
citus_preloaded(void)
{
	if (citus.state == 0)
	{
		/* a setting Citus defines in _PG_init: present only if it ran */
		if (GetConfigOption("citus.node_conninfo", true, false) == NULL)
			citus.state = -1;
		else
		{
			void	   *handle = NULL;

#define BIND(field, type, name) \
			citus.field = (type) load_external_function("$libdir/citus", name, true, &handle)
			BIND(has_been_loaded, bool_void_fn, "CitusHasBeenLoaded");
			BIND(is_citus_table, bool_oid_fn, "IsCitusTable");
			BIND(shard_id_from_name, shardid_fn, "ExtractShardIdFromTableName");
			BIND(shard_relation, shardrel_fn, "LookupShardRelationFromCatalog");
			BIND(internal_backend, bool_void_fn, "IsCitusInternalBackend");
			BIND(local_group, groupid_fn, "GetLocalGroupId");
			BIND(send_as_owner, send_fn, "SendCommandToRemoteNodesWithMetadataViaSuperUser");
#undef BIND
			citus.state = 1;
		}
	}
	return citus.state == 1;
}

bool
mesh_citus_active(void)
{
	return citus_preloaded() && citus.has_been_loaded();
}

bool
mesh_citus_shard_like_name(Oid relid)
{
	char	   *name;
	size_t		len;
	size_t		i;

	if (!citus_preloaded())
		return false;
	name = get_rel_name(relid);
	if (name == NULL)
		return false;
	len = strlen(name);
	for (i = len; i > 0 && isdigit((unsigned char) name[i - 1]); i--)
		;
	return i < len && i > 1 && name[i - 1] == '_';
}

Oid
mesh_citus_shard_of(Oid relid)
{
	char	   *name;
	uint64		shardid;
	Oid			logical;

	if (!mesh_citus_shard_like_name(relid) || !mesh_citus_active())
		return InvalidOid;
	name = get_rel_name(relid);
	shardid = citus.shard_id_from_name(name, true);
	if (shardid == 0)
		return InvalidOid;
	logical = citus.shard_relation((int64) shardid, true);
	/* a shard lives in its table's schema */
	if (!OidIsValid(logical) || logical == relid ||
		get_rel_namespace(logical) != get_rel_namespace(relid))
		return InvalidOid;
	return logical;
}

bool
mesh_citus_is_table(Oid relid)
{
	return mesh_citus_active() && citus.is_citus_table(relid);
}

/*
 * A node of a Citus cluster other than the coordinator: its governance
 * catalog is the coordinator's copy, which only the coordinator changes.
 */
bool
mesh_citus_is_worker(void)
{
	return mesh_citus_active() && citus.local_group() != 0;
}

/*
 * Citus recognises its own connections by their application_name
 * ("citus_internal gpid=..."), which any client may set.  On a worker that
 * only keeps the shard reads the coordinator sent out of the worker's
 * access history (the coordinator records them).  On the coordinator
 * nothing records those reads elsewhere: a consumer reading the
 * coordinator's own placements (reference tables, Citus local tables)
 * under a faked name would leave no trace in the history that is the
 * cluster's record.  The coordinator therefore trusts the name for
 * nothing; a read a worker routes to it is recorded on both nodes.
 */
bool
mesh_citus_internal_backend(void)
{
	return citus_preloaded() && citus.internal_backend() && mesh_citus_is_worker();
}

/* The governance tables: the rest (SLOs, history, lineage) stay local. */
static bool
governance_table(Oid relid)
{
	const MeshCatalog *cat = mesh_catalog();

	return cat != NULL &&
		(relid == cat->domain_rel || relid == cat->product_rel ||
		 relid == cat->column_rel || relid == cat->grant_rel ||
		 relid == cat->tag_rel || relid == cat->column_tag_rel ||
		 relid == cat->attribute_rel || relid == cat->policy_rel ||
		 relid == cat->secret_rel);
}

/*
 * Sends the catalog to the nodes with metadata, in this transaction.  On a
 * coordinator only (callers check).
 */
static void
send_catalog(void)
{
	char	   *payload;

	catalog_pending = false;

	/*
	 * Each send replaces the workers' catalog whole, so two transactions
	 * changing the catalog at once must not each send a catalog without
	 * the other's change: the sends are serialised (the lock is held to
	 * commit), and the payload is read after the lock, with a snapshot
	 * that sees what the transaction before committed.  A transaction
	 * snapshot (REPEATABLE READ, SERIALIZABLE) could not.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the meshpg catalog of a Citus cluster in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("The catalog sent to the workers must include every change committed before it."),
				 errhint("Change the catalog in a READ COMMITTED transaction.")));
	LockRelationOid(mesh_catalog()->domain_rel, ShareUpdateExclusiveLock);

	/*
	 * The payload carries the hash key, which the writer may not read:
	 * mesh_spi_first_value runs as the catalog's owner.
	 */
	payload = mesh_spi_first_value("SELECT meshpg._citus_catalog_payload()::text",
								   0, NULL, NULL);
	if (payload == NULL)
		return;

	/*
	 * Citus reports every command it sends as a NOTICE to the client when
	 * citus.log_remote_commands is on, a setting any role may set; the
	 * statement that triggers a send may be any role's
	 * (create_distributed_table() of its own table, say).  The payload
	 * holds the hash key and every role's attributes: Citus must not
	 * report it.  Off for the send only, whatever set it.
	 */
	{
		int			nest = NewGUCNestLevel();

		if (GetConfigOption("citus.log_remote_commands", true, false) != NULL)
			(void) set_config_option("citus.log_remote_commands", "off",
									 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		/* on an error, the transaction's abort restores the setting */
		citus.send_as_owner(psprintf("SELECT meshpg._citus_receive_catalog(%s::jsonb)",
									 quote_literal_cstr(payload)));
		AtEOXact_GUC(true, nest);
	}
	sent_in_xact = true;
}

/*
 * A statement trigger on a governance table saw a change: the catalog is
 * sent once, at commit (before Citus prepares the transaction on the
 * workers), not once per catalog table a statement writes: registering a
 * product writes several, and a script registering a thousand products in
 * one transaction would send the whole catalog thousands of times.
 * Nothing is lost by waiting: the catalog reaches a worker on the
 * extension owner's connection, whose uncommitted rows no other
 * connection of the transaction (each reader's own) could see anyway; the
 * workers see the change when it commits, everywhere at once (two-phase
 * commit), as before.
 */
void
mesh_citus_catalog_changed(Oid relid)
{
	if (!governance_table(relid) || !mesh_citus_active())
		return;
	/* only the coordinator (group 0) is the catalog's source */
	if (citus.local_group() != 0)
		return;
	/* refused now, not at the send: see send_catalog() */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the meshpg catalog of a Citus cluster in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("The catalog sent to the workers must include every change committed before it."),
				 errhint("Change the catalog in a READ COMMITTED transaction.")));
	if (!sync_callback_registered)
	{
		RegisterXactCallback(sync_xact_callback, NULL);
		sync_callback_registered = true;
	}
	catalog_pending = true;
}

/* Makes a pending send, with a snapshot that sees this transaction's writes. */
static void
flush_catalog(void)
{
	bool		pushed;

	if (!catalog_pending || !IsTransactionState() || mesh_catalog() == NULL)
		return;
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	send_catalog();
	if (pushed)
		PopActiveSnapshot();
}

PG_FUNCTION_INFO_V1(meshpg_citus_sync);

/* meshpg.citus_sync(): send the catalog now. */
Datum
meshpg_citus_sync(PG_FUNCTION_ARGS)
{
	if (mesh_catalog() == NULL || !mesh_citus_active())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Citus is not loaded in this database"),
				 errhint("meshpg.citus_sync() runs on a Citus coordinator, with citus listed before meshpg in shared_preload_libraries.")));
	if (citus.local_group() != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("meshpg.citus_sync() must run on the Citus coordinator"),
				 errhint("The coordinator's catalog is the one the workers receive.")));
	if (IsolationUsesXactSnapshot())
		mesh_citus_catalog_changed(mesh_catalog()->product_rel);	/* refuses */
	send_catalog();
	PG_RETURN_VOID();
}

/*
 * meshpg.purpose as the workers have it.  Citus carries SET LOCAL commands
 * to every worker connection of the transaction when
 * citus.propagate_set_commands is 'local', and nothing else: a purpose set
 * that way, in this very transaction, is the one the workers govern with.
 */
static char *local_purpose = NULL;	/* in TopTransactionContext */
static LocalTransactionId local_purpose_lxid = InvalidLocalTransactionId;

/* ProcessUtility step (src/hooks.c): notes a SET LOCAL meshpg.purpose. */
void
mesh_citus_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc,
				   MeshHookStep next)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		propagated = false;

	if (IsA(stmt, VariableSetStmt) && ((VariableSetStmt *) stmt)->name != NULL &&
		strcmp(((VariableSetStmt *) stmt)->name, "meshpg.purpose") == 0 &&
		mesh_citus_active())
	{
		const char *mode = GetConfigOption("citus.propagate_set_commands", true, false);

		propagated = ((VariableSetStmt *) stmt)->is_local && IsTransactionBlock() &&
			mode != NULL && strcmp(mode, "local") == 0;
	}
	mesh_next_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
					  dest, qc, next);
	if (IsA(stmt, VariableSetStmt) && ((VariableSetStmt *) stmt)->name != NULL &&
		strcmp(((VariableSetStmt *) stmt)->name, "meshpg.purpose") == 0)
	{
		if (propagated)
		{
			local_purpose = MemoryContextStrdup(TopTransactionContext,
												mesh_session_purpose != NULL ? mesh_session_purpose : "");
			local_purpose_lxid = MyProc->lxid;
		}
		else
			local_purpose_lxid = InvalidLocalTransactionId;
	}
}

bool
mesh_citus_workers_have_purpose(const char *purpose)
{
	return local_purpose_lxid == MyProc->lxid && local_purpose != NULL &&
		purpose != NULL && strcmp(local_purpose, purpose) == 0;
}

/*
 * After create_distributed_table, create_reference_table, citus_add_node
 * and the like, the nodes may hold relations (or be nodes) the catalog they
 * have does not cover: send it again.  Rows whose relation is not visible
 * to the receiving connection yet (created in this transaction on another
 * connection) are left out there, and the send after commit (above)
 * completes them; until then those shards refuse reads.  An ExecutorEnd
 * step (src/hooks.c).
 */
void
mesh_citus_executor_end(QueryDesc *query, MeshHookStep next)
{
	uint32		sync = 0;
	ListCell   *lc;

	foreach(lc, query->plannedstmt->invalItems)
		if (((PlanInvalItem *) lfirst(lc))->cacheId == MESH_MARK_CITUS_SYNC)
			sync = Max(sync, ((PlanInvalItem *) lfirst(lc))->hashValue);
	mesh_next_executor_end(query, next);
	if (sync == MESH_CITUS_TOPOLOGY && mesh_citus_active() && citus.local_group() == 0)
	{
		/*
		 * A table that is no product distributed (a consumer's own): no
		 * send, but one after commit if the transaction registers it.
		 */
		if (!sync_callback_registered)
		{
			RegisterXactCallback(sync_xact_callback, NULL);
			sync_callback_registered = true;
		}
		topology_in_xact = true;
	}
	else if (sync == MESH_CITUS_TOPOLOGY_SEND && mesh_catalog() != NULL &&
			 mesh_citus_active() && citus.local_group() == 0)
	{
		bool		pushed = !ActiveSnapshotSet();

		if (!sync_callback_registered)
		{
			RegisterXactCallback(sync_xact_callback, NULL);
			sync_callback_registered = true;
		}
		topology_in_xact = true;

		/* the statement's own snapshot may be gone by now */
		if (pushed)
			PushActiveSnapshot(GetTransactionSnapshot());
		send_catalog();
		if (pushed)
			PopActiveSnapshot();
	}
}

/*
 * The catalog again after commit.  A table distributed in a transaction
 * (create_distributed_table, create_reference_table) exists on the workers
 * only in that transaction's own worker connections until it commits, so
 * the catalog the transaction sent (on the extension owner's connection)
 * left its product out there, and the workers refuse its shards.  When a
 * transaction that changed the cluster's topology and sent the catalog
 * commits, a background worker ("meshpg citus sync") sends it once more.
 * It takes the lock every send takes, which the committing transaction
 * holds until Citus has committed it on the workers (Citus commits its
 * prepared transactions in its commit callback, before locks are
 * released), so what it sends is read after the tables exist everywhere.
 * Until it has run, the shards of such a product refuse reads (fail
 * closed); if it cannot run, meshpg.citus_sync() does the same.
 */

static void
start_sync_worker(void)
{
	BackgroundWorker worker = {0};
	BackgroundWorkerHandle *handle;

	snprintf(worker.bgw_name, BGW_MAXLEN, "meshpg citus sync");
	snprintf(worker.bgw_type, BGW_MAXLEN, "meshpg citus sync");
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "meshpg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mesh_citus_sync_main");
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	worker.bgw_notify_pid = 0;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the meshpg citus sync worker: no background worker slot is free"),
				 errdetail("The workers refuse reads of a product distributed in this transaction until the catalog is sent again."),
				 errhint("Run SELECT meshpg.citus_sync() on the coordinator, or raise max_worker_processes.")));
}

static void
sync_xact_callback(XactEvent event, void *arg)
{
	/*
	 * The catalog changed in this transaction: sent now, before Citus
	 * prepares the transaction on the workers (its callback runs after
	 * this one, which was registered after it).  Deferred triggers and
	 * portals closed at commit have run.
	 */
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE) &&
		catalog_pending)
		flush_catalog();
	if (event == XACT_EVENT_COMMIT && topology_in_xact && sent_in_xact)
		start_sync_worker();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		topology_in_xact = sent_in_xact = catalog_pending = false;
}

/* The background worker's entry point: one send, then exit. */
void
mesh_citus_sync_main(Datum arg)
{
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	pgstat_report_appname("meshpg citus sync");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "meshpg citus sync");
	if (mesh_catalog() != NULL && mesh_citus_active() && citus.local_group() == 0)
		send_catalog();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/*
 * What the catalog asks of the cluster (catalog.h), registered from
 * src/hooks.c: the catalog is below this layer and cannot call it.
 */
const MeshClusterOps mesh_citus_cluster_ops = {
	.shard_of = mesh_citus_shard_of,
	.is_table = mesh_citus_is_table,
	.shard_like_name = mesh_citus_shard_like_name,
	.catalog_changed = mesh_citus_catalog_changed,
};
