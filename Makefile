# treeserve build.
#
#   make                      release build -> build/treeserve
#   make tests                also builds every tests/**/test_*.c into build/tests/
#   make SAN=1 BUILD=build-san tests    ASan + UBSan build of the same
#   make TSAN=1 BUILD=build-tsan tests  ThreadSanitizer build
#   make CC=clang             any C11 compiler; warnings are errors with gcc and clang
#
# Every .c under src/ except src/cli/ goes into one static library, which the
# binary, the tests and the fuzzers link. New files are picked up automatically.

BUILD ?= build
CC ?= cc
OPT ?= -O2

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE
CFLAGS += -std=c11 $(OPT) -g $(WARN) -pthread -fno-strict-aliasing
LDLIBS += -pthread -lm

# libmicrohttpd is the HTTP layer; optional only so that a machine without it
# can still build the engine and CLI (scripts/install-deps.sh installs it).
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
CPPFLAGS += $(MHD_CFLAGS)
LDLIBS += $(MHD_LIBS)

ifeq ($(SAN),1)
  CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
  OPT := -O1
endif
ifeq ($(TSAN),1)
  CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=thread
  OPT := -O1
endif

LIB_SRCS := $(shell find src -name '*.c' -not -path 'src/cli/*' | sort)
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
TEST_SRCS := $(shell find tests -name 'test_*.c' -not -path 'tests/fuzz/*' | sort)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BINS := $(foreach t,$(TEST_SRCS),$(BUILD)/tests/$(basename $(notdir $(t))))
LIB := $(BUILD)/libtreeserve.a

.PHONY: all tests clean
all: $(BUILD)/treeserve

tests: $(BUILD)/treeserve $(TEST_BINS)

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/treeserve: $(CLI_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# Tests: one binary per tests/**/test_NAME.c, each run in its own process.
# tests/unit/testutil.h holds the small shared helpers (header-only).
define TEST_RULE
$(BUILD)/tests/$(basename $(notdir $(1))): $(BUILD)/obj/$(1:.c=.o) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) $$(TEST_LDFLAGS_$(basename $(notdir $(1)))) -o $$@ $$< $(LIB) $$(LDLIBS) -lcmocka
endef
# Extra link flags of one test: the allocation-failure test replaces the
# allocator of the library it links (see tests/unit/test_alloc_failure.c).
TEST_LDFLAGS_test_alloc_failure := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free
$(foreach t,$(TEST_SRCS),$(eval $(call TEST_RULE,$(t))))

clean:
	rm -rf build build-san build-tsan build-fuzz

# Fuzzers: `make fuzz` builds every tests/fuzz/fuzz_*.c (fuzz_common.c is
# linked into each) with clang, libFuzzer, ASan and UBSan into build-fuzz/.
# The library is built with coverage instrumentation (FUZZ=1).
# tests/fuzz/test_fuzz_regress.sh replays the corpora and fuzzes briefly.
FUZZ_BUILD ?= build-fuzz
FUZZ_SRCS := $(filter-out tests/fuzz/fuzz_common.c,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
ifeq ($(FUZZ),1)
  CFLAGS += -fsanitize=fuzzer-no-link
endif
.PHONY: fuzz
fuzz:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SAN=1 FUZZ=1 \
	  $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.c tests/fuzz/fuzz_common.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/fuzz -DTS_FUZZ_SRC='"$(CURDIR)"' $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) \
	  -o $@ $< tests/fuzz/fuzz_common.c $(LIB) $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The README's two commands. `make run` starts the main job on the bundled
# example; `make test` installs what the tests need and runs every test.
.PHONY: run test
run:
	@bash scripts/install-deps.sh --build-only
	@$(MAKE) -s all
	@bash scripts/run-example.sh

test:
	@bash scripts/test.sh

# The whole architecture on one machine: 3 replicas behind nginx, scraped by
# Prometheus (scripts/stack; `scripts/stack down` stops it). Docs: README "Local stack".
.PHONY: stack
stack:
	@$(MAKE) -s all
	@bash scripts/stack up

# Every offline deployment validator (Dockerfile, kustomize + schemas + policies, Terraform,
# pipeline, Prometheus rules, Grafana dashboard, linters): deploy/tools/check.sh.
.PHONY: check-deploy
check-deploy:
	@bash deploy/tools/check.sh
