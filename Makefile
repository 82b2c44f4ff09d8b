# Gatehouse — the two commands of the README, and a few more.
#   make run    build and run the check-in service on SQLite (gatehouse-data/)
#   make test   build and run every test
#   make bench  print check-in throughput and latency (release build, wrk)

SWIFT ?= swift
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: deps test-deps build run test bench clean

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --with-test-tools

build: deps
	$(SWIFT) build --product gatehouse

run: build
	$(SWIFT) run gatehouse serve --host $(HOST) --port $(PORT)

# One build: `swift test` builds the tests and the `gatehouse` binary they start.
test: test-deps
	$(SWIFT) test

bench: test-deps
	bash scripts/bench-service.sh

clean:
	rm -rf .build
