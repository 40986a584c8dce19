# patchpoint - thin driver over scripts/ and Meson. The two commands a newcomer needs:
#   make demo    install dependencies, build, run a scripted tour of the signing toolkit
#   make check   install dependencies, build, run every test (SANITIZE=1: under ASan+UBSan)
# Others: make bench (benchmarks against peer tools), make fuzz (libFuzzer targets), make format.

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
MESON_OPTS += -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
else
BUILD ?= build
endif

.PHONY: all deps build check demo bench fuzz format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	@bash scripts/install-deps.sh
	meson setup $(BUILD) -Dwerror=true $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: build
	@bash scripts/run-tests.sh $(BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)/patchpoint

bench: build
	@bash scripts/install-deps.sh --bench
	ninja -C $(BUILD) policy_resolve fleet
	@bash bench/sign.sh $(BUILD)/patchpoint
	@bash bench/api.sh $(BUILD)/patchpointd
	@bash bench/publish.sh $(BUILD)/patchpoint $(BUILD)/patchpointd
	@bash bench/catalog.sh $(BUILD)/patchpoint $(BUILD)/patchpointd
	@bash bench/policy.sh $(BUILD)/patchpoint $(BUILD)/patchpointd
	@bash bench/fleet.sh $(BUILD)/patchpoint $(BUILD)/patchpointd

fuzz:
	@bash scripts/install-deps.sh --fuzz
	@bash scripts/fuzz.sh

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz
