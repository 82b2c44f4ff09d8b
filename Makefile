# Gatehouse — the two commands of the README, and a few more.
#   make run    build and run the check-in service on SQLite (gatehouse-data/)
#   make test   build and run every test
#   make bench        print check-in throughput and latency (release build, wrk)
#   make bench-kiosk  print decode cost, frame-to-relay latency, kiosk memory (release build)

SWIFT ?= swift
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: deps test-deps build run test bench bench-kiosk kiosk-static clean

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --with-test-tools

build: deps
	$(SWIFT) build --product gatehouse

run: build
	$(SWIFT) run gatehouse serve --host $(HOST) --port $(PORT)

# One build: `swift test` builds the tests and the binaries they start, with a throwaway
# PostgreSQL cluster of its own running. The GPIO shim is also built against libgpiod 2.x first
# (this machine has 1.6).
test: test-deps
	bash scripts/check-gpiod-v2.sh
	bash scripts/with-postgres.sh $(SWIFT) test

bench: test-deps
	bash scripts/bench-service.sh

clean:
	rm -rf .build .build-static

# The kiosk as installed: release, Swift runtime linked in (a gate box needs no Swift toolchain).
kiosk-static: deps
	$(SWIFT) build -c release --static-swift-stdlib --product gate-kiosk --scratch-path .build-static

bench-kiosk: test-deps kiosk-static
	$(SWIFT) build -c release --product gatehouse
	$(SWIFT) build -c release --product kiosk-bench
	GATE_KIOSK_BIN=.build-static/release/gate-kiosk $$($(SWIFT) build -c release --show-bin-path)/kiosk-bench
