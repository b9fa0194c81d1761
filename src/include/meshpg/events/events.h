/*
 * events.h
 *		Mesh events (doc/events.md): every change to the mesh emits one
 *		CloudEvents 1.0 event in the transaction that makes it.  The event
 *		is a row of the outbox (meshpg.cat_event), a transactional logical
 *		decoding message with the prefix "meshpg" (wal2json, pgoutput with
 *		messages, Debezium carry it) and a NOTIFY meshpg_events carrying
 *		only the outbox id.
 *
 *		The surface layers (registry, contract, slo) and the layers above
 *		call mesh_event_emit; SQL and PL/pgSQL code calls
 *		meshpg._emit_event(type, subject, data).
 */
#ifndef MESHPG_EVENTS_H
#define MESHPG_EVENTS_H

/* the prefix of the logical decoding messages, and the NOTIFY channel */
#define MESH_EVENT_MESSAGE_PREFIX "meshpg"
#define MESH_EVENT_CHANNEL "meshpg_events"

/*
 * Who may read an event: each is the rule of one of the catalog's own views,
 * so an event is never more visible than what it reports
 * (meshpg._event_visible in sql/1.4/30-events.sql applies them).
 */
typedef enum MeshEventVisibility
{
	MESH_EVENT_VIS_CATALOG,		/* metadata, as meshpg.domains, products,
								 * contracts, tags, policies: everyone */
	MESH_EVENT_VIS_GRANT,		/* as meshpg.grants: the role concerned
								 * (grantee, consumer, requester), the owning
								 * domain's team, the governance team */
	MESH_EVENT_VIS_ROLE,		/* as meshpg.attributes: the role described
								 * and the governance team */
	MESH_EVENT_VIS_READER,		/* as meshpg.slo_results: who may read the
								 * product (meshpg._may_read_product) */
	MESH_EVENT_VIS_DOMAIN,		/* the owning domain's team and the
								 * governance team (meshpg._manages) */
	MESH_EVENT_VIS_ADMIN		/* the governance team only */
} MeshEventVisibility;

/* What the subject names: how the outbox row finds its domain and product. */
typedef enum MeshEventSubject
{
	MESH_EVENT_SUBJECT_PRODUCT, /* "domain.product" (or "domain.product@2") */
	MESH_EVENT_SUBJECT_DOMAIN,	/* "domain" */
	MESH_EVENT_SUBJECT_OTHER	/* a tag, a policy, a role, a port: no product */
} MeshEventSubject;

/* One row of the kinds table of event types (src/events/types.c). */
typedef struct MeshEventType
{
	const char *type;			/* the CloudEvents type, "meshpg.<object>.<what>" */
	MeshEventVisibility visibility;
	MeshEventSubject subject;
	const char *role_key;		/* data key naming the role concerned (GRANT,
								 * ROLE), else NULL */
	const char *description;	/* one line, for doc/events.md and
								 * meshpg.event_types */
} MeshEventType;

extern const MeshEventType mesh_event_types[];	/* ends with a NULL type */
extern const MeshEventType *mesh_event_type(const char *type);	/* NULL if unknown */
extern const char *mesh_event_visibility_name(MeshEventVisibility vis);

/*
 * Emits one event in the current transaction.  type: a type of the kinds
 * table (an unknown one is a bug: elog ERROR); subject: the object's name;
 * data_json: a JSON object of names, versions, figures and reasons, never a
 * value of a product's rows (NULL: {}).  Does nothing while meshpg.events
 * is off.
 */
extern void mesh_event_emit(const char *type, const char *subject, const char *data_json);

/* settings (src/events/emit.c) */
extern bool mesh_events_enabled;	/* meshpg.events */
extern int	mesh_events_retention;	/* meshpg.events_retention, minutes; 0 keeps all */
extern void mesh_define_event_settings(void);

/* the worker task pruning the outbox (src/events/prune.c) */
extern bool mesh_events_prune_task(void);

#endif							/* MESHPG_EVENTS_H */
