/*
 * yaml.c
 *		Reading descriptors (YAML 1.1 through libyaml; JSON is read as YAML
 *		flow style) into a tree, and writing a tree back as YAML.
 *
 * Descriptors come from domain teams' repositories, so the reader is
 * strict: anchors, aliases and explicit tags are refused (an alias bomb
 * costs nothing to write and a lot to expand), keys must be plain strings
 * and unique, and the caller has already bounded the size.
 */
#include "postgres.h"

#include <yaml.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "meshpg/contract/yaml_tree.h"

static void
parse_error(yaml_parser_t *parser, const char *msg, int line)
{
	char	   *problem = pstrdup(msg ? msg : "malformed document");

	yaml_parser_delete(parser);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("descriptor is not valid YAML or JSON: %s at line %d", problem, line)));
}

static void
next_event(yaml_parser_t *parser, yaml_event_t *event)
{
	if (!yaml_parser_parse(parser, event))
		parse_error(parser, parser->problem, (int) parser->problem_mark.line + 1);
	CHECK_FOR_INTERRUPTS();
}

static void
refuse_anchor(yaml_parser_t *parser, yaml_event_t *event, const unsigned char *anchor,
			  const unsigned char *tag, bool implicit)
{
	int			line = (int) event->start_mark.line + 1;

	if (anchor != NULL || event->type == YAML_ALIAS_EVENT)
	{
		yaml_event_delete(event);
		yaml_parser_delete(parser);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("descriptor uses a YAML anchor or alias at line %d", line),
				 errdetail("Anchors and aliases are refused: write each value out.")));
	}
	if (tag != NULL && !implicit)
	{
		yaml_event_delete(event);
		yaml_parser_delete(parser);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("descriptor uses an explicit YAML tag at line %d", line)));
	}
}

static YNode *parse_node(yaml_parser_t *parser, yaml_event_t *event, int depth);

static YNode *
new_node(YNodeKind kind, int line)
{
	YNode	   *n = palloc0(sizeof(YNode));

	n->kind = kind;
	n->line = line;
	return n;
}

static YNode *
parse_node(yaml_parser_t *parser, yaml_event_t *event, int depth)
{
	YNode	   *node;
	int			line = (int) event->start_mark.line + 1;

	check_stack_depth();
	if (depth > 64)
	{
		yaml_event_delete(event);
		yaml_parser_delete(parser);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("descriptor nests deeper than 64 levels at line %d", line)));
	}
	switch (event->type)
	{
		case YAML_ALIAS_EVENT:
			refuse_anchor(parser, event, NULL, NULL, true);
			return NULL;
		case YAML_SCALAR_EVENT:
			refuse_anchor(parser, event, event->data.scalar.anchor, event->data.scalar.tag,
						  event->data.scalar.plain_implicit || event->data.scalar.quoted_implicit);

			/*
			 * A double-quoted "\0" (or JSON "\u0000") decodes to a NUL byte.
			 * Kept, it would cut the value short wherever it becomes a C
			 * string: "email\0junk" would name column email, and the rest
			 * of a description would be silently lost.  Text cannot hold
			 * NUL, so refuse it as jsonb does.
			 */
			if (memchr(event->data.scalar.value, '\0', event->data.scalar.length) != NULL)
			{
				yaml_event_delete(event);
				yaml_parser_delete(parser);
				ereport(ERROR,
						(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
						 errmsg("descriptor has a NUL character in a value at line %d", line),
						 errdetail("Text values cannot contain \\0 or \\u0000.")));
			}
			node = new_node(YSCALAR, line);
			node->value = pnstrdup((char *) event->data.scalar.value, event->data.scalar.length);
			node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			yaml_event_delete(event);
			return node;
		case YAML_SEQUENCE_START_EVENT:
			refuse_anchor(parser, event, event->data.sequence_start.anchor,
						  event->data.sequence_start.tag, event->data.sequence_start.implicit);
			yaml_event_delete(event);
			node = new_node(YSEQ, line);
			for (;;)
			{
				yaml_event_t child;

				next_event(parser, &child);
				if (child.type == YAML_SEQUENCE_END_EVENT)
				{
					yaml_event_delete(&child);
					break;
				}
				node->items = lappend(node->items, parse_node(parser, &child, depth + 1));
			}
			return node;
		case YAML_MAPPING_START_EVENT:
			refuse_anchor(parser, event, event->data.mapping_start.anchor,
						  event->data.mapping_start.tag, event->data.mapping_start.implicit);
			yaml_event_delete(event);
			node = new_node(YMAP, line);
			for (;;)
			{
				yaml_event_t key;
				YNode	   *k;
				ListCell   *lc;

				next_event(parser, &key);
				if (key.type == YAML_MAPPING_END_EVENT)
				{
					yaml_event_delete(&key);
					break;
				}
				k = parse_node(parser, &key, depth + 1);
				if (k->kind != YSCALAR)
				{
					yaml_parser_delete(parser);
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("descriptor has a key that is not a string at line %d", k->line)));
				}
				foreach(lc, node->keys)
				{
					if (strcmp(((YNode *) lfirst(lc))->value, k->value) == 0)
					{
						yaml_parser_delete(parser);
						ereport(ERROR,
								(errcode(ERRCODE_DUPLICATE_JSON_OBJECT_KEY_VALUE),
								 errmsg("descriptor has duplicate key \"%s\" at line %d",
										k->value, k->line),
								 errdetail("The same key appears at line %d.",
										   ((YNode *) lfirst(lc))->line)));
					}
				}
				next_event(parser, &key);
				node->keys = lappend(node->keys, k);
				node->items = lappend(node->items, parse_node(parser, &key, depth + 1));
			}
			return node;
		default:
			yaml_event_delete(event);
			parse_error(parser, "unexpected event", line);
	}
	return NULL;
}

/* The documents of a YAML stream (a JSON text is one document). */
List *
mesh_yaml_parse(const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t event;
	List	   *docs = NIL;

	if (!yaml_parser_initialize(&parser))
		elog(ERROR, "could not initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

	for (;;)
	{
		next_event(&parser, &event);
		if (event.type == YAML_STREAM_END_EVENT)
		{
			yaml_event_delete(&event);
			break;
		}
		if (event.type == YAML_DOCUMENT_START_EVENT)
		{
			yaml_event_t root;

			yaml_event_delete(&event);
			next_event(&parser, &root);
			docs = lappend(docs, parse_node(&parser, &root, 0));
			next_event(&parser, &event);	/* document end */
		}
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
	return docs;
}

/* ---- writing ---- */

static bool
plain_safe(const char *s)
{
	static const char *const reserved[] = {"true", "false", "yes", "no", "on", "off",
	"y", "n", "null", "~", NULL};
	const char *p;

	if (*s == '\0')
		return false;
	for (int i = 0; reserved[i]; i++)
		if (pg_strcasecmp(s, reserved[i]) == 0)
			return false;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '/'))
		return false;
	for (p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.' || c == '-' || c == '@' || c == '/' || c == '=' ||
			  (c == ' ' && p[1] != '\0' && p[1] != '#' && p[-1] != ':')))
			return false;
	}
	return true;
}

void
mesh_yaml_scalar(StringInfo out, const char *s)
{
	if (plain_safe(s))
		appendStringInfoString(out, s);
	else
		escape_json(out, s);	/* a JSON string is a YAML double-quoted scalar */
}
