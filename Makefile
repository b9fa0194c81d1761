# meshpg: PGXS build.  `make installcheck` runs every suite against
# throwaway clusters that preload meshpg (see scripts/test.sh).

EXTENSION = meshpg
MODULE_big = meshpg

SRCS = $(wildcard src/*.c src/*/*.c)
OBJS = $(SRCS:.c=.o)

# Shipped scripts are frozen; the next version's upgrade script is built
# from one part per concern (sql/<version>/NN-concern.sql, in name order).
DATA = $(wildcard sql/meshpg--*.sql)
DATA_built = meshpg--1.0--1.1.sql meshpg--1.1--1.2.sql meshpg--1.2--1.3.sql meshpg--1.3--1.4.sql
# meshctl (descriptors from CI) goes to PostgreSQL's bindir, beside psql.
SCRIPTS = bin/meshctl

PG_CONFIG ?= pg_config
ICU_CFLAGS := $(shell pkg-config --cflags icu-uc icu-i18n)
ICU_LIBS := $(shell pkg-config --libs icu-uc icu-i18n)
# descriptors (src/contract/yaml.c)
YAML_CFLAGS := $(shell pkg-config --cflags yaml-0.1)
YAML_LIBS := $(shell pkg-config --libs yaml-0.1)

PG_CPPFLAGS = -I$(srcdir)/src/include $(ICU_CFLAGS) $(YAML_CFLAGS)
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(ICU_LIBS) $(YAML_LIBS)

# pg_regress suites: test/regress/sql/<name>.sql against test/regress/expected/<name>.out.
REGRESS = init names domains products lifecycle grants search ddl security bad_input policies \
	contract_ddl contract_versions descriptor_apply descriptor_errors descriptor_slo \
	slo_declare slo_evaluate \
	history_access history_plans history_encoding lineage_graph lineage_tags hostile_input newcomer \
	fdw_products
# 1.4: one line per concern, so parallel work merges cleanly.
REGRESS += governed_stats
REGRESS += projection
REGRESS += aggregation
REGRESS += privacy
REGRESS += events
REGRESS += classify retention
REGRESS += ports
REGRESS += access_requests point_in_time
REGRESS_OPTS = --inputdir=$(srcdir)/test/regress --outputdir=test/regress \
	--temp-instance=./tmp_check_regress \
	--temp-config=$(srcdir)/test/meshpg.conf \
	--encoding=UTF8 --no-locale

# Isolation specs: test/isolation/specs/<name>.spec against test/isolation/expected/<name>.out.
ISOLATION = confusable_race grant_invalidation policy_invalidation snapshot_races \
	contract_apply_race contract_notify \
	slo_alerts slo_gate \
	history_flush governance_locks
ISOLATION += events_commit_order
ISOLATION += privacy_budget
ISOLATION += retention_race
ISOLATION += access_request_race
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --outputdir=test/isolation \
	--temp-instance=./tmp_check_iso \
	--temp-config=$(srcdir)/test/meshpg.conf \
	--encoding=UTF8 --no-locale --load-extension=meshpg

# Security suite: test/security/sql/<name>.sql against expected/.  Beyond the
# comparison, the attack output must never contain a hidden value (CANARY).
SECURITY = setup vectors rowsecurity adversary adversary2 adversary3 adversary4 adversary6 adversary7 adversary8 \
	adversary_fdw hardening_history hardening_walks adversary_red10 adversary_red11
SECURITY += adversary_events
SECURITY += adversary_agg
SECURITY += adversary_dp
SECURITY += adversary_classify
SECURITY += adversary_stats
SECURITY += adversary_red12
SECURITY += adversary_access
SECURITY_OPTS = --inputdir=$(srcdir)/test/security --outputdir=test/security \
	--temp-instance=./tmp_check_security \
	--temp-config=$(srcdir)/test/meshpg.conf \
	--encoding=UTF8 --no-locale

# TAP: test/t/*.pl (dump/restore, upgrade path).
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = $(DATA_built) tmp_check_regress tmp_check_iso tmp_check_security tmp_check results output_iso \
	test/regress/results test/regress/regression.diffs test/regress/regression.out test/regress/log \
	test/isolation/results test/isolation/regression.diffs test/isolation/regression.out test/isolation/log \
	test/security/results test/security/regression.diffs test/security/regression.out \
	regression.diffs regression.out test/docs/docs.diffs test/docs/actual

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard src/include/meshpg/*.h src/include/meshpg/*/*.h)

meshpg--1.0--1.1.sql: $(sort $(wildcard sql/1.1/*.sql))
	cat $^ > $@
meshpg--1.1--1.2.sql: $(sort $(wildcard sql/1.2/*.sql))
	cat $^ > $@
meshpg--1.2--1.3.sql: $(sort $(wildcard sql/1.3/*.sql))
	cat $^ > $@
meshpg--1.3--1.4.sql: $(sort $(wildcard sql/1.4/*.sql))
	cat $^ > $@

# Each suite on its own, so scripts/test.sh can count them all even when
# one fails (installcheck stops at the first failing suite).
.PHONY: check-regress check-isolation check-security check-tap check-docs
check-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
check-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
check-security:
	$(pg_regress_installcheck) $(SECURITY_OPTS) $(SECURITY)
	@if grep -n 'CANARY' $(patsubst %,test/security/results/%.out,$(filter-out setup,$(SECURITY))); then \
		echo 'security: a hidden value reached the attacker (lines above)'; exit 1; fi
check-tap:
	$(prove_installcheck)
# Every ```sql example of README.md and doc/*.md (test/docs/run.pl).
check-docs:
	MESHPG_PG_BIN='$(bindir)' bash $(srcdir)/test/docs/run.sh
