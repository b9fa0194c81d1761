/*
 * requests.c
 *		Access requests: a consumer asks for a product, the domain team (or
 *		the governance team) approves or denies, a product's auto-approval
 *		rules may approve at once, and a request nobody answers expires.
 *
 * An approval grants through mesh_grant_to, the code of grant_access, so a
 * requested grant is the same as a typed one.  Every step is a row of
 * meshpg.cat_access_request_step and an event (meshpg.access.*), never
 * with the justification or a denial's reason in the event: those are for
 * the requester and the domain team only (the views of
 * sql/1.4/40-access-requests.sql).
 *
 * Rights: anyone may request a product it can discover (a missing product
 * and one it cannot discover give the same error, mesh_resolve_product's);
 * the owning domain's team and the governance team decide; the requester
 * (or the governance team) cancels.  A request the caller may not see does
 * not exist for it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "meshpg/events/events.h"
#include "meshpg/policy/policy.h"
#include "meshpg/registry/registry.h"

PG_FUNCTION_INFO_V1(meshpg_set_auto_approval);
PG_FUNCTION_INFO_V1(meshpg_role_attribute);
PG_FUNCTION_INFO_V1(meshpg_request_access);
PG_FUNCTION_INFO_V1(meshpg_approve_request);
PG_FUNCTION_INFO_V1(meshpg_deny_request);
PG_FUNCTION_INFO_V1(meshpg_cancel_request);
PG_FUNCTION_INFO_V1(meshpg_expire_access_requests);

/* meshpg.access_request_ttl: seconds a request waits for an answer */
static int	request_ttl = 7 * 24 * 3600;

void
mesh_define_request_settings(void)
{
	DefineCustomIntVariable("meshpg.access_request_ttl",
							"How long an access request waits for an answer before it expires.",
							"Set when the request is made; the worker records the expiry.",
							&request_ttl,
							7 * 24 * 3600, 1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/* The request as approve, deny and cancel see it, locked. */
typedef struct RequestRow
{
	int64		id;
	char	   *product;		/* domain.product */
	Oid			requester;
	Oid			domain_owner;
	char	   *purpose;
	char	   *state;
	bool		overdue;		/* pending past answer_by */
} RequestRow;

static char *
col_text(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static Datum
col_datum(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

static void
request_not_found(int64 id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("access request " INT64_FORMAT " does not exist", id),
			 errhint("List the requests you may answer with SELECT * FROM meshpg.access_request_queue, and your own with SELECT * FROM meshpg.my_access_requests.")));
}

/*
 * Reads and locks request id.  One the caller may not see (neither its
 * requester, nor the owning domain, nor the governance team) does not
 * exist for it.
 */
static void
lock_request(int64 id, Oid caller, RequestRow *out)
{
	bool		isnull;

	mesh_spi_exec("SELECT d.name || '.' || p.name, r.requester::oid, d.owner::oid, r.purpose, r.state, "
				  "       r.state = 'pending' AND r.answer_by <= now() "
				  "  FROM meshpg.cat_access_request r "
				  "  JOIN meshpg.cat_product p ON p.id = r.product_id "
				  "  JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE r.id = $1 FOR UPDATE OF r",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL);
	if (SPI_processed == 0)
		request_not_found(id);
	out->id = id;
	out->product = col_text(1);
	out->requester = DatumGetObjectId(col_datum(2, &isnull));
	out->domain_owner = DatumGetObjectId(col_datum(3, &isnull));
	out->purpose = col_text(4);
	out->state = col_text(5);
	out->overdue = DatumGetBool(col_datum(6, &isnull));
	if (!has_privs_of_role(caller, out->requester) &&
		!has_privs_of_role(caller, out->domain_owner) && !mesh_is_admin(caller))
		request_not_found(id);
}

/* Only a pending request in time can be answered. */
static void
require_pending(const RequestRow *req, const char *action)
{
	if (strcmp(req->state, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s access request " INT64_FORMAT " because it is %s",
						action, req->id, req->state),
				 errhint("Only a pending request can be answered or cancelled; see its steps in meshpg.access_request_steps.")));
	if (req->overdue)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s access request " INT64_FORMAT " because it has expired",
						action, req->id),
				 errdetail("Nobody answered it within meshpg.access_request_ttl."),
				 errhint("The requester may request access again.")));
}

static void
require_decider(Oid caller, const RequestRow *req, const char *action)
{
	if (has_privs_of_role(caller, req->domain_owner) || mesh_is_admin(caller))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s access request " INT64_FORMAT, action, req->id),
			 errdetail("Only the team of the product's domain (members of role \"%s\") and the governance team may.",
					   GetUserNameFromId(req->domain_owner, false)),
			 errhint("A requester may cancel its own request with meshpg.cancel_request.")));
}

/* One step: a row for the requester and the domain team, and an event. */
static void
record_step(int64 id, const char *step, const char *actor, const char *detail_json,
			const char *product, Oid requester)
{
	char	   *type = psprintf("meshpg.access.%s", step);
	char	   *data;
	char	   *name = GetUserNameFromId(requester, true);

	mesh_spi_exec("INSERT INTO meshpg.cat_access_request_step (request_id, step, actor, detail) "
				  "VALUES ($1, $2, $3, $4::jsonb)",
				  4, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(step), CStringGetTextDatum(actor),
			  CStringGetTextDatum(detail_json ? detail_json : "{}")}, NULL);
	/* names and ids only: no justification, no reason */
	data = mesh_spi_first_value("SELECT pg_catalog.jsonb_build_object('request', $1::bigint, "
								"'requester', $2::text, 'by', $3::text)::text",
								3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
								(Datum[]) {Int64GetDatum(id),
									CStringGetTextDatum(name ? name : ""),
								CStringGetTextDatum(actor)});
	mesh_event_emit(type, product, data);
}

/* meshpg._role_attribute(role, key): the values policies see (private). */
Datum
meshpg_role_attribute(PG_FUNCTION_ARGS)
{
	List	   *values = mesh_role_attribute(PG_GETARG_OID(0), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(values) + 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, values)
		elems[n++] = CStringGetTextDatum(strVal(lfirst(lc)));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* meshpg.set_auto_approval(product, rules): NULL or [] removes them. */
Datum
meshpg_set_auto_approval(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	MeshSpiState spi;
	MeshProductRow product;
	char	   *rules;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	rules = mesh_spi_first_value("SELECT meshpg._auto_approval_rules($1)::text", 1,
								 (Oid[]) {JSONBOID},
								 (Datum[]) {PG_ARGISNULL(1) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("null")) :
								 PG_GETARG_DATUM(1)});
	if (strcmp(rules, "[]") == 0)
		mesh_spi_exec("DELETE FROM meshpg.cat_auto_approval WHERE product_id = $1",
					  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product.id)}, NULL);
	else
		mesh_spi_exec("INSERT INTO meshpg.cat_auto_approval (product_id, rules, set_by) "
					  "VALUES ($1, $2::jsonb, $3) ON CONFLICT (product_id) DO UPDATE "
					  "   SET rules = EXCLUDED.rules, set_by = EXCLUDED.set_by, set_at = now()",
					  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
					  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(rules),
					  CStringGetTextDatum(GetUserNameFromId(spi.userid, false))}, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * The grant of an approved request, the request's row and its step.  expires
 * (now() + the duration, or the approver's shorter choice) was computed by
 * the caller.
 */
static void
approve(const MeshProductRow *product, int64 id, Oid requester, const char *purpose,
		TimestampTz expires, const char *decided_by, const char *detail_json)
{
	mesh_grant_to(product, requester, purpose, true, expires, decided_by);
	mesh_spi_exec("UPDATE meshpg.cat_access_request "
				  "   SET state = 'approved', decided_by = $2, decided_at = now(), "
				  "       grant_purpose = $3, grant_expires = $4 "
				  " WHERE id = $1",
				  4, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(decided_by),
					  CStringGetTextDatum(purpose), TimestampTzGetDatum(expires)}, NULL);
	record_step(id, "approved", decided_by, detail_json, product->qualname, requester);
}

static TimestampTz
spi_timestamptz(const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;

	mesh_spi_exec(sql, nargs, types, values, NULL);
	return DatumGetTimestampTz(col_datum(1, &isnull));
}

/* meshpg.request_access(product, purpose, justification, duration) */
Datum
meshpg_request_access(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *purpose = mesh_arg_text(fcinfo, 1, "purpose");
	char	   *justification = mesh_arg_text(fcinfo, 2, "justification");
	Datum		duration;
	MeshSpiState spi;
	MeshProductRow product;
	char	   *requester_name;
	bool		isnull;
	int64		id;
	int32		rule = 0;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("duration must not be null"),
				 errhint("Say for how long you need the access, for example interval '30 days'.")));
	duration = PG_GETARG_DATUM(3);
	if (purpose[0] == '\0' || justification[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", purpose[0] == '\0' ? "purpose" : "justification"),
				 errhint("The domain team decides on the purpose and the justification you give.")));

	mesh_spi_begin(&spi);
	requester_name = GetUserNameFromId(spi.userid, false);
	mesh_spi_exec("SELECT $1 > interval '0'", 1, (Oid[]) {INTERVALOID}, (Datum[]) {duration}, NULL);
	if (!DatumGetBool(col_datum(1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("duration must be positive"),
				 errhint("Say for how long you need the access, for example interval '30 days'.")));

	/* a product the caller cannot discover gets the error of a missing one */
	mesh_resolve_product(ref, false, &product);
	if (product.state != MESH_PUBLISHED && product.state != MESH_DEPRECATED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot request access to data product \"%s\" because it is %s",
						product.qualname, product.state_name),
				 errhint("Only published and deprecated data products have consumers.")));

	/* an earlier request left unanswered is expired first, on the record */
	mesh_spi_exec("UPDATE meshpg.cat_access_request SET state = 'expired', decided_by = 'meshpg', "
				  "       decided_at = now() "
				  " WHERE product_id = $1 AND requester = $2 AND state = 'pending' AND answer_by <= now() "
				  "RETURNING id",
				  2, (Oid[]) {INT8OID, OIDOID},
				  (Datum[]) {Int64GetDatum(product.id), ObjectIdGetDatum(spi.userid)}, NULL);
	if (SPI_processed > 0)
		record_step(DatumGetInt64(col_datum(1, &isnull)), "expired", "meshpg", NULL,
					product.qualname, spi.userid);

	mesh_spi_exec("SELECT id FROM meshpg.cat_access_request "
				  " WHERE product_id = $1 AND requester = $2 AND state = 'pending'",
				  2, (Oid[]) {INT8OID, OIDOID},
				  (Datum[]) {Int64GetDatum(product.id), ObjectIdGetDatum(spi.userid)}, NULL);
	if (SPI_processed > 0)
	{
		int64		open = DatumGetInt64(col_datum(1, &isnull));

		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("role \"%s\" already has a pending access request for data product \"%s\"",
						requester_name, product.qualname),
				 errdetail("Request " INT64_FORMAT " waits for an answer.", open),
				 errhint("Wait for the domain team, or cancel it with meshpg.cancel_request(" INT64_FORMAT ").",
						 open)));
	}

	mesh_spi_exec("INSERT INTO meshpg.cat_access_request "
				  "  (product_id, requester, purpose, justification, duration, answer_by) "
				  "VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING id",
				  6, (Oid[]) {INT8OID, OIDOID, TEXTOID, TEXTOID, INTERVALOID, INT4OID},
				  (Datum[]) {Int64GetDatum(product.id), ObjectIdGetDatum(spi.userid),
					  CStringGetTextDatum(purpose), CStringGetTextDatum(justification), duration,
				  Int32GetDatum(request_ttl)}, NULL);
	id = DatumGetInt64(col_datum(1, &isnull));
	record_step(id, "requested", requester_name, NULL, product.qualname, spi.userid);

	/*
	 * The product's rules: the first that matches approves.  A rule's
	 * purposes must include the purpose, the requester must hold one of the
	 * values of each of its attributes (as policies see attributes), and the
	 * duration must not exceed its max_duration.
	 */
	mesh_spi_exec("SELECT r.n::int4 FROM meshpg.cat_auto_approval a, "
				  "       jsonb_array_elements(a.rules) WITH ORDINALITY r(rule, n) "
				  " WHERE a.product_id = $1 "
				  "   AND (NOT r.rule ? 'purposes' OR r.rule->'purposes' ? $3) "
				  "   AND (NOT r.rule ? 'max_duration' OR $4 <= (r.rule->>'max_duration')::interval) "
				  "   AND NOT EXISTS (SELECT 1 FROM jsonb_each(COALESCE(r.rule->'attributes', '{}')) att(k, vals) "
				  "        WHERE NOT COALESCE(meshpg._role_attribute($2::oid::regrole, att.k) "
				  "                 && ARRAY(SELECT jsonb_array_elements_text(att.vals)), false)) "
				  " ORDER BY r.n LIMIT 1",
				  4, (Oid[]) {INT8OID, OIDOID, TEXTOID, INTERVALOID},
				  (Datum[]) {Int64GetDatum(product.id), ObjectIdGetDatum(spi.userid),
				  CStringGetTextDatum(purpose), duration}, NULL);
	if (SPI_processed > 0)
		rule = DatumGetInt32(col_datum(1, &isnull));
	if (rule > 0)
	{
		char	   *by = psprintf("auto-approval rule %d", rule);
		TimestampTz expires;

		/* lock the product as grant_access does */
		mesh_resolve_product(product.qualname, true, &product);
		expires = spi_timestamptz("SELECT now() + $1", 1, (Oid[]) {INTERVALOID}, (Datum[]) {duration});
		approve(&product, id, spi.userid, purpose, expires, by,
				psprintf("{\"rule\": %d}", rule));
	}
	mesh_spi_end(&spi);
	PG_RETURN_INT64(id);
}

/* The request id every answer takes first. */
static int64
request_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("access request must not be null")));
	return PG_GETARG_INT64(0);
}

/* meshpg.approve_request(request, expires, duration, purpose) */
Datum
meshpg_approve_request(PG_FUNCTION_ARGS)
{
	int64		id;
	MeshSpiState spi;
	RequestRow	req;
	MeshProductRow product;
	char	   *purpose = mesh_arg_text_opt(fcinfo, 3);
	TimestampTz expires;
	bool		isnull;
	char	   *detail;

	id = request_arg(fcinfo);
	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot give both an expiry and a duration"),
				 errhint("Pass expires => a time, or duration => an interval, not both.")));
	if (purpose != NULL && purpose[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must not be empty"),
				 errhint("Pass NULL to grant the purpose requested.")));

	mesh_spi_begin(&spi);
	lock_request(id, spi.userid, &req);
	require_decider(spi.userid, &req, "approve");
	require_pending(&req, "approve");

	/* the expiry: the duration asked, or shorter; never longer */
	mesh_spi_exec("SELECT now() + r.duration, "
				  "       CASE WHEN $2 IS NOT NULL THEN $2 WHEN $3 IS NOT NULL THEN now() + $3 "
				  "            ELSE now() + r.duration END, "
				  "       ($2 IS NOT NULL AND $2 <= now()) OR ($3 IS NOT NULL AND $3 <= interval '0') "
				  "  FROM meshpg.cat_access_request r WHERE r.id = $1",
				  3, (Oid[]) {INT8OID, TIMESTAMPTZOID, INTERVALOID},
				  (Datum[]) {Int64GetDatum(id), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)},
				  (char[]) {' ', PG_ARGISNULL(1) ? 'n' : ' ', PG_ARGISNULL(2) ? 'n' : ' '});
	{
		TimestampTz longest = DatumGetTimestampTz(col_datum(1, &isnull));

		expires = DatumGetTimestampTz(col_datum(2, &isnull));
		if (DatumGetBool(col_datum(3, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the approved access must end in the future"),
					 errhint("Pass a later expiry or a positive duration, or neither for the duration requested.")));
		if (expires > longest)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot approve access request " INT64_FORMAT " for longer than requested", id),
					 errdetail("The request asks for access until %s.", timestamptz_to_str(longest)),
					 errhint("Approve with a shorter expiry or duration, or ask the requester for a new request.")));
	}

	mesh_resolve_product(req.product, true, &product);
	detail = mesh_spi_first_value("SELECT pg_catalog.jsonb_build_object('expires', $1::timestamptz, "
								  "'purpose', $2::text, 'purpose_changed', $3::boolean)::text",
								  3, (Oid[]) {TIMESTAMPTZOID, TEXTOID, BOOLOID},
								  (Datum[]) {TimestampTzGetDatum(expires),
									  CStringGetTextDatum(purpose ? purpose : req.purpose),
								  BoolGetDatum(purpose != NULL && strcmp(purpose, req.purpose) != 0)});
	approve(&product, id, req.requester, purpose ? purpose : req.purpose, expires,
			GetUserNameFromId(spi.userid, false), detail);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.deny_request(request, reason) */
Datum
meshpg_deny_request(PG_FUNCTION_ARGS)
{
	int64		id;
	char	   *reason = mesh_arg_text_opt(fcinfo, 1);
	MeshSpiState spi;
	RequestRow	req;
	char	   *by;

	id = request_arg(fcinfo);
	if (reason == NULL || reason[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a denial needs a reason"),
				 errhint("Tell the requester why, for example what purpose would be acceptable.")));

	mesh_spi_begin(&spi);
	lock_request(id, spi.userid, &req);
	require_decider(spi.userid, &req, "deny");
	require_pending(&req, "deny");
	by = GetUserNameFromId(spi.userid, false);
	mesh_spi_exec("UPDATE meshpg.cat_access_request "
				  "   SET state = 'denied', decided_by = $2, decided_at = now(), reason = $3 "
				  " WHERE id = $1",
				  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(by), CStringGetTextDatum(reason)},
				  NULL);
	record_step(id, "denied", by,
				mesh_spi_first_value("SELECT pg_catalog.jsonb_build_object('reason', $1::text)::text",
									 1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(reason)}),
				req.product, req.requester);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.cancel_request(request): the requester's (or the governance team's) */
Datum
meshpg_cancel_request(PG_FUNCTION_ARGS)
{
	int64		id;
	MeshSpiState spi;
	RequestRow	req;
	char	   *by;

	id = request_arg(fcinfo);
	mesh_spi_begin(&spi);
	lock_request(id, spi.userid, &req);
	if (!has_privs_of_role(spi.userid, req.requester) && !mesh_is_admin(spi.userid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to cancel access request " INT64_FORMAT, id),
				 errdetail("Only the requester and the governance team may cancel a request."),
				 errhint("The domain team answers a request with meshpg.deny_request.")));
	require_pending(&req, "cancel");
	by = GetUserNameFromId(spi.userid, false);
	mesh_spi_exec("UPDATE meshpg.cat_access_request "
				  "   SET state = 'cancelled', decided_by = $2, decided_at = now() WHERE id = $1",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(by)}, NULL);
	record_step(id, "cancelled", by, NULL, req.product, req.requester);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * Expires every pending request past its answer_by, each with its step and
 * event.  A concurrent approval or denial holds the row: the UPDATE waits,
 * then skips a request no longer pending.
 */
static int64
expire_requests(void)
{
	MeshSpiState spi;
	List	   *ids = NIL;
	List	   *products = NIL;
	List	   *requesters = NIL;
	ListCell   *a,
			   *b,
			   *c;
	int64		n = 0;

	mesh_spi_begin(&spi);
	mesh_spi_exec("UPDATE meshpg.cat_access_request r "
				  "   SET state = 'expired', decided_by = 'meshpg', decided_at = now() "
				  "  FROM meshpg.cat_product p JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE p.id = r.product_id AND r.state = 'pending' AND r.answer_by <= now() "
				  "RETURNING r.id, d.name || '.' || p.name, r.requester::oid",
				  0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		int64	   *id = palloc(sizeof(int64));

		*id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		ids = lappend(ids, id);
		products = lappend(products, SPI_getvalue(tup, SPI_tuptable->tupdesc, 2));
		requesters = lappend_oid(requesters,
								 DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull)));
	}
	forthree(a, ids, b, products, c, requesters)
	{
		record_step(*(int64 *) lfirst(a), "expired", "meshpg", NULL, lfirst(b), lfirst_oid(c));
		n++;
	}
	mesh_spi_end(&spi);
	return n;
}

/* meshpg.expire_access_requests(): the governance team, or the worker */
Datum
meshpg_expire_access_requests(PG_FUNCTION_ARGS)
{
	mesh_require_admin(GetUserId(), "expire access requests");
	PG_RETURN_INT64(expire_requests());
}

/* The worker's task "access_requests". */
bool
mesh_access_requests_task(void)
{
	if (mesh_catalog() == NULL ||
		mesh_spi_first_value("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
							 "ON n.oid = c.relnamespace WHERE n.nspname = 'meshpg' "
							 "AND c.relname = 'cat_access_request'", 0, NULL, NULL) == NULL)
		return false;
	expire_requests();
	return false;
}
