# Gatehouse — the two commands of the README, and a few more.
#   make run    build and run the check-in service on SQLite (gatehouse-data/)
#   make test   build and run every test
#   make bench        print check-in throughput and latency (release build, wrk)
#   make format       rewrite the Swift sources in the checked style (.swift-format)
#   make bench-issue    tickets issued per second with each kind of QR image
#   make bench-hostile  honest check-ins under attack on each store: p50/p99 with and without, 5xx, memory
#   make bench-kiosk  print decode cost, frame-to-relay latency, kiosk memory (release build)
#   make bench-mysql  print check-ins per second on MariaDB, beside a plain client on the same server
#   make bench-before-after BEFORE=<rev>  check-ins per second on each store, an earlier commit beside this tree
#   make bench-offline  print snapshot sync, offline decision and upload figures, kiosk memory
#   make field-test   the kiosk and the service installed and run under systemd in a Debian 13 VM

SWIFT ?= swift
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: deps test-deps build run test field-test format bench bench-issue bench-registration bench-hostile bench-kiosk bench-offline bench-postgres bench-scale-out bench-mysql bench-before-after kiosk-static static install uninstall clean

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --with-test-tools

build: deps
	$(SWIFT) build --product gatehouse

run: build
	$(SWIFT) run gatehouse serve --host $(HOST) --port $(PORT)

# One build: the tests and the binaries they start, then the tests themselves with a throwaway
# PostgreSQL cluster and a throwaway MariaDB server of their own running: the in-process suites in parallel, then the ones that
# start real processes or time real threads one at a time (scripts/run-tests.sh). Also: the GPIO shim built against
# libgpiod 2.x (this machine has 1.6), the systemd units verified and scored, `make install` into
# a scratch folder; the web pages in headless Chromium; the API fuzzed against openapi.yaml.
test: test-deps
	@# Style is checked, not debated: the toolchain's formatter with .swift-format (Hummingbird's settings).
	$(SWIFT) format lint --strict -r Sources Tests Plugins
	bash scripts/lint-js.sh
	@# The alerting rules parse, and each alert fires on the series it is for (promtool, Debian's prometheus).
	cd monitoring && promtool check rules gatehouse-alerts.yml && promtool test rules gatehouse-alerts.test.yml
	bash scripts/check-gpiod-v2.sh
	$(SWIFT) build --build-tests
	bash scripts/check-units.sh
	bash scripts/check-install.sh
	SWIFT=$(SWIFT) bash scripts/with-postgres.sh bash scripts/with-mariadb.sh bash scripts/run-tests.sh
	@# The web pages in real headless Chromium against the real service (screenshots in browser-artifacts/).
	bash scripts/browser-tests.sh
	@# The API against its OpenAPI description, fuzzed by schemathesis: no 5xx, every answer as described.
	bash scripts/check-openapi.sh

# A Debian 13 guest under QEMU (built once, reused while current): the static build installed
# with `make install`, both units started by systemd, a v4l2loopback camera and a gpio-sim chip;
# prints one line per scenario, exits non-zero when one fails. Needs root (debootstrap, chroot).
field-test:
	SWIFT=$(SWIFT) bash scripts/field-test.sh

# Rewrites the Swift sources in the project's style (what `make test` checks).
format:
	$(SWIFT) format format -i -r Sources Tests Plugins

bench: test-deps
	bash scripts/bench-service.sh

# Issuing tickets with each --images choice; `none` is the reference (issue #31).
bench-issue: test-deps
	bash scripts/bench-issue.sh

# Registrations through the public form and ticket mails to a local SMTP server (issue #26).
bench-registration: test-deps
	bash scripts/bench-registration.sh

# Honest check-ins while an attacker tries each known way to shut gates (issues #9, #23), on
# SQLite, PostgreSQL and MariaDB: honest p50/p99 with and without each attack, peak memory.
bench-hostile: test-deps
	bash scripts/with-postgres.sh bash scripts/with-mariadb.sh bash scripts/bench-hostile.sh

clean:
	rm -rf .build .build-static

# The kiosk as installed: release, Swift runtime linked in (a gate box needs no Swift toolchain).
kiosk-static: deps
	$(SWIFT) build -c release --static-swift-stdlib --product gate-kiosk --scratch-path .build-static

bench-kiosk: test-deps kiosk-static
	$(SWIFT) build -c release --product gatehouse
	$(SWIFT) build -c release --product kiosk-bench
	GATE_KIOSK_BIN=.build-static/release/gate-kiosk $$($(SWIFT) build -c release --show-bin-path)/kiosk-bench
	@# Codes read per corpus set beside bare zbar and zxing-cpp (its binding from PyPI, when reachable).
	@test -x .build/bench-venv/bin/python || { python3 -m venv .build/bench-venv && .build/bench-venv/bin/pip install --quiet "zxing-cpp>=2.2" numpy || true; }
	.build/bench-venv/bin/python bench/decoders.py ../shared/corpus .build-static/release/gate-kiosk

# Offline gates: 100,000-ticket snapshot pull, delta, offline decision, upload, kiosk memory.
bench-offline: test-deps kiosk-static
	$(SWIFT) build -c release --product gatehouse
	$(SWIFT) build -c release --product offline-bench
	GATE_KIOSK_BIN=.build-static/release/gate-kiosk $$($(SWIFT) build -c release --show-bin-path)/offline-bench

bench-postgres: test-deps
	bash scripts/with-postgres.sh bash scripts/bench-postgres.sh

# Two service processes and 50 events on one PostgreSQL beside one process and one event.
bench-scale-out: test-deps
	bash scripts/with-postgres.sh bash scripts/bench-scale-out.sh

# MySQL/MariaDB: the API's first check-ins beside a plain C client's conditional UPDATE + INSERT.
bench-mysql: test-deps
	bash scripts/with-mariadb.sh bash scripts/bench-mysql.sh

bench-before-after: test-deps
	BEFORE=$(BEFORE) bash scripts/with-postgres.sh bash scripts/with-mariadb.sh bash scripts/bench-before-after.sh

# Installation. PREFIX for the binaries and docs, DESTDIR to stage into a folder (packaging).
# Binaries come from BUILT: the static release build by default (no Swift runtime needed on the
# box); `make install BUILT=.build/debug` installs what `swift build` made.
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
UDEVDIR ?= $(SYSCONFDIR)/udev/rules.d
SYSUSERSDIR ?= $(SYSCONFDIR)/sysusers.d
BUILT ?= .build-static/release

# STATIC_SCRATCH names another build folder: the field rig builds into .build-guest, with
# GATEHOUSE_GUEST_SYSROOT set to its Debian 13 guest's libgpiod 2.x and zxing-cpp 2.3 (see Package.swift).
# Its headers come first on the include path, its libraries are linked by their paths (where
# -L would come after this machine's library folders) and only into the programs that use them
# (--as-needed: the build's own tools run here, where the guest's libraries are not installed),
# and symbols they need from the guest's newer glibc and libstdc++ are left for the guest.
STATIC_SCRATCH ?= .build-static
GUEST_FLAGS = $(if $(GATEHOUSE_GUEST_SYSROOT),-Xcc -I$(GATEHOUSE_GUEST_SYSROOT)/include -Xcxx -I$(GATEHOUSE_GUEST_SYSROOT)/include \
	-Xlinker --as-needed -Xlinker $(GATEHOUSE_GUEST_SYSROOT)/lib/libgpiod.so -Xlinker $(GATEHOUSE_GUEST_SYSROOT)/lib/libZXing.so \
	-Xlinker --allow-shlib-undefined)
static: deps
	$(SWIFT) build -c release --static-swift-stdlib --product gate-kiosk --scratch-path $(STATIC_SCRATCH) $(GUEST_FLAGS)
	$(SWIFT) build -c release --static-swift-stdlib --product gatehouse --scratch-path $(STATIC_SCRATCH) $(GUEST_FLAGS)

install:
	@test -x $(BUILT)/gate-kiosk -a -x $(BUILT)/gatehouse || { echo "no binaries in $(BUILT): run 'make static' first (or set BUILT=)"; exit 1; }
	install -D -m 0755 $(BUILT)/gate-kiosk $(DESTDIR)$(PREFIX)/bin/gate-kiosk
	install -D -m 0755 $(BUILT)/gatehouse $(DESTDIR)$(PREFIX)/bin/gatehouse
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' systemd/gate-kiosk.service > $(DESTDIR)$(UNITDIR)/gate-kiosk.service
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' systemd/gatehouse.service > $(DESTDIR)$(UNITDIR)/gatehouse.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/gate-kiosk.service $(DESTDIR)$(UNITDIR)/gatehouse.service
	install -D -m 0644 udev/70-gate-camera.rules $(DESTDIR)$(UDEVDIR)/70-gate-camera.rules
	install -D -m 0644 udev/60-gatehouse-gpio.rules $(DESTDIR)$(UDEVDIR)/60-gatehouse-gpio.rules
	install -D -m 0644 systemd/gatehouse-sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/gatehouse.conf
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/gate-kiosk $(DESTDIR)$(SYSCONFDIR)/gatehouse
	@# A technician's config is never overwritten: the default goes in only when none is there.
	test -e $(DESTDIR)$(SYSCONFDIR)/gate-kiosk/gate-kiosk.conf || { $(BUILT)/gate-kiosk config > $(DESTDIR)$(SYSCONFDIR)/gate-kiosk/gate-kiosk.conf && chmod 0644 $(DESTDIR)$(SYSCONFDIR)/gate-kiosk/gate-kiosk.conf; }
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/gatehouse/README.md
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/gatehouse/docs docs/*.md

# Removes what install put in place; the configuration and the device token stay (they are the
# technician's), as do the databases in /var/lib.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/gate-kiosk $(DESTDIR)$(PREFIX)/bin/gatehouse
	rm -f $(DESTDIR)$(UNITDIR)/gate-kiosk.service $(DESTDIR)$(UNITDIR)/gatehouse.service
	rm -f $(DESTDIR)$(UDEVDIR)/70-gate-camera.rules $(DESTDIR)$(UDEVDIR)/60-gatehouse-gpio.rules
	rm -f $(DESTDIR)$(SYSUSERSDIR)/gatehouse.conf
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/gatehouse
