/*
 * types.c
 *		The kinds table of mesh events: every event type meshpg emits, who
 *		may read it, what its subject names, and one line saying what it
 *		reports.  Emitting a type that is not here is a bug (elog ERROR in
 *		mesh_event_emit).  doc/events.md documents each type's data with a
 *		JSON Schema; the regress test events checks that both list the same
 *		types (meshpg.event_types).
 *
 *		Adding a type: a row here (keep the groups), its schema in
 *		doc/events.md, its emission in the transaction that makes the change.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "meshpg/events/events.h"

#define CAT MESH_EVENT_VIS_CATALOG
#define GRANT MESH_EVENT_VIS_GRANT
#define ROLE MESH_EVENT_VIS_ROLE
#define READER MESH_EVENT_VIS_READER
#define DOMAIN MESH_EVENT_VIS_DOMAIN
#define ADMIN MESH_EVENT_VIS_ADMIN
#define PRODUCT MESH_EVENT_SUBJECT_PRODUCT
#define DOM MESH_EVENT_SUBJECT_DOMAIN
#define OTHER MESH_EVENT_SUBJECT_OTHER

const MeshEventType mesh_event_types[] = {
	/* domains (registry/domain.c) */
	{"meshpg.domain.created", CAT, DOM, NULL, "a domain was created"},
	{"meshpg.domain.changed", CAT, DOM, NULL, "a domain's owner, description or contacts changed"},
	{"meshpg.domain.dropped", CAT, DOM, NULL, "a domain was dropped"},

	/* products and their lifecycle (registry/product.c) */
	{"meshpg.product.registered", CAT, PRODUCT, NULL, "a relation was registered as a data product"},
	{"meshpg.product.changed", CAT, PRODUCT, NULL, "a product's or a column's documentation changed"},
	{"meshpg.product.published", CAT, PRODUCT, NULL, "a product was published (with its version)"},
	{"meshpg.product.deprecated", CAT, PRODUCT, NULL, "a product was deprecated (sunset, successor)"},
	{"meshpg.product.retired", CAT, PRODUCT, NULL, "a product was retired"},
	{"meshpg.product.unregistered", CAT, PRODUCT, NULL, "a product was removed from the catalog"},

	/* contracts and descriptors (contract/) */
	{"meshpg.product.major_version", CAT, PRODUCT, NULL, "a new major version of a product was registered"},
	{"meshpg.contract.changed", CAT, PRODUCT, NULL, "compatible contract changes were applied to a published product"},
	{"meshpg.descriptor.applied", CAT, PRODUCT, NULL, "a data product descriptor was applied"},

	/* grants (registry/access.c; the expiry by the worker) */
	{"meshpg.grant.given", GRANT, PRODUCT, "grantee", "a role was granted access to a product"},
	{"meshpg.grant.revoked", GRANT, PRODUCT, "grantee", "a role's access to a product was revoked"},
	{"meshpg.grant.expired", GRANT, PRODUCT, "grantee", "a grant reached its expiry"},

	/* tags, policies, attributes (registry/policy.c) */
	{"meshpg.tag.created", CAT, OTHER, NULL, "a tag was created"},
	{"meshpg.tag.dropped", CAT, OTHER, NULL, "a tag was dropped"},
	{"meshpg.tag.set", CAT, PRODUCT, NULL, "a tag was set on a product's column"},
	{"meshpg.tag.removed", CAT, PRODUCT, NULL, "a tag was removed from a product's column"},
	{"meshpg.policy.created", CAT, OTHER, NULL, "a masking or row policy was created"},
	{"meshpg.policy.changed", CAT, OTHER, NULL, "a policy was changed"},
	{"meshpg.policy.dropped", CAT, OTHER, NULL, "a policy was dropped"},
	{"meshpg.attribute.changed", ROLE, OTHER, "role", "a role's attribute was set or unset"},

	/* SLOs (slo/) */
	{"meshpg.slo.breached", READER, PRODUCT, NULL, "an SLO that was met is no longer met"},
	{"meshpg.slo.recovered", READER, PRODUCT, NULL, "a breached SLO is met again"},
	{"meshpg.slo.budget_exhausted", READER, PRODUCT, NULL, "an SLO's error budget is used up"},

	/* output ports (the governed change streams) */
	{"meshpg.port.created", GRANT, PRODUCT, "consumer", "an output port was created for a consumer"},
	{"meshpg.port.dropped", GRANT, PRODUCT, "consumer", "an output port was dropped"},
	{"meshpg.port.suspended", GRANT, PRODUCT, "consumer", "an output port was suspended (lag, grant ended)"},
	{"meshpg.port.resumed", GRANT, PRODUCT, "consumer", "a suspended output port was resumed"},

	/* access requests */
	{"meshpg.access.requested", GRANT, PRODUCT, "requester", "a role requested access to a product"},
	{"meshpg.access.approved", GRANT, PRODUCT, "requester", "an access request was approved"},
	{"meshpg.access.denied", GRANT, PRODUCT, "requester", "an access request was denied"},
	{"meshpg.access.expired", GRANT, PRODUCT, "requester", "an access request expired unanswered"},
	{"meshpg.access.cancelled", GRANT, PRODUCT, "requester", "an access request was cancelled"},

	/* retention and classification */
	{"meshpg.retention.run", DOMAIN, PRODUCT, NULL, "a retention run removed a product's expired rows (a count)"},
	{"meshpg.classification.suggested", DOMAIN, PRODUCT, NULL, "a classification (tag) was suggested for a column"},

	{NULL, 0, 0, NULL, NULL}
};

static const char *const visibility_names[] = {
	[MESH_EVENT_VIS_CATALOG] = "catalog",
	[MESH_EVENT_VIS_GRANT] = "grant",
	[MESH_EVENT_VIS_ROLE] = "role",
	[MESH_EVENT_VIS_READER] = "reader",
	[MESH_EVENT_VIS_DOMAIN] = "domain",
	[MESH_EVENT_VIS_ADMIN] = "admin",
};

const MeshEventType *
mesh_event_type(const char *type)
{
	for (int i = 0; mesh_event_types[i].type != NULL; i++)
		if (strcmp(mesh_event_types[i].type, type) == 0)
			return &mesh_event_types[i];
	return NULL;
}

const char *
mesh_event_visibility_name(MeshEventVisibility vis)
{
	return visibility_names[vis];
}

PG_FUNCTION_INFO_V1(meshpg_event_types);

/* meshpg.event_types: the kinds table, for consumers and the docs check. */
Datum
meshpg_event_types(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; mesh_event_types[i].type != NULL; i++)
	{
		const MeshEventType *t = &mesh_event_types[i];
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(t->type);
		values[1] = CStringGetTextDatum(visibility_names[t->visibility]);
		values[2] = CStringGetTextDatum(t->description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
