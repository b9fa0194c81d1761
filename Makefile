# meshpg: PGXS build.  `make installcheck` runs every suite against
# throwaway clusters that preload meshpg (see scripts/test.sh).

EXTENSION = meshpg
MODULE_big = meshpg

SRCS = $(wildcard src/*.c src/*/*.c)
OBJS = $(SRCS:.c=.o)
HEADERS = $(wildcard src/*.h src/*/*.h)

DATA = $(wildcard sql/meshpg--*.sql)

PG_CONFIG ?= pg_config
ICU_CFLAGS := $(shell pkg-config --cflags icu-uc icu-i18n)
ICU_LIBS := $(shell pkg-config --libs icu-uc icu-i18n)

PG_CPPFLAGS = -I$(srcdir)/src $(ICU_CFLAGS)
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(ICU_LIBS)

# pg_regress suites: sql/<name>.sql against expected/<name>.out.
REGRESS = init names domains products lifecycle grants search ddl security bad_input
REGRESS_OPTS = --temp-instance=./tmp_check_regress \
	--temp-config=$(srcdir)/test/meshpg.conf \
	--encoding=UTF8 --no-locale

# Isolation specs: specs/<name>.spec against expected/<name>.out.
ISOLATION = confusable_race grant_invalidation
ISOLATION_OPTS = --temp-instance=./tmp_check_iso \
	--temp-config=$(srcdir)/test/meshpg.conf \
	--encoding=UTF8 --no-locale --load-extension=meshpg

# TAP: test/t/*.pl (dump/restore, upgrade path).
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = tmp_check_regress tmp_check_iso tmp_check results output_iso \
	regression.diffs regression.out

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(HEADERS)

# Each suite on its own, so scripts/test.sh can count them all even when
# one fails (installcheck stops at the first failing suite).
.PHONY: check-regress check-isolation check-tap
check-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
check-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
check-tap:
	$(prove_installcheck)
