# Top-level tasks for the dRPC repository. Every Go module is handled on its
# own with GOWORK=off, exactly as a team that imports one released module
# would build it; the tools (buf, protoc-gen-go, staticcheck) run as
# `go tool` entries of the tools module through go.work.

MODULES  := proto drpc api daemon server agent tools
BASELINE := breaking/baseline.binpb
BIN      ?= $(CURDIR)/bin
GOTEST_FLAGS ?= -race -count=1

# The version the binaries report (`version`) and the packages carry:
# scripts/version, computed once, unless given (make install VERSION=v0.1.0).
VERSION ?= $(eval VERSION := $$(shell ./scripts/version))$(VERSION)
LDFLAGS  = -X github.com/cc532012/drpc/daemon/version.stamped=$(VERSION)

# Where `make install` puts things (every path under DESTDIR).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DESTDIR     ?=
# Where `make packages` stages the files and writes the .deb and .rpm.
PKGSTAGE := $(CURDIR)/build/pkgroot
DIST     := $(CURDIR)/dist

.PHONY: all run demo binaries build test test-alloc lint breaking generate check-generated check-modules bench bench-peers baseline ci clean
.PHONY: api-check api-baseline install uninstall packages check-deb release-gomod

all: build test lint breaking

## run: the README's run command: the demo.
run: demo

## demo: build the binaries and run the whole system end to end in a fresh
## temporary directory (drpc-server, two drpc-engines, drpc-agent, drpc);
## one line per step; the directory is removed at the end unless KEEP=1
## (make demo KEEP=1); about 10 s once built. Ctrl-C stops it at once.
demo: binaries
	./scripts/demo $(BIN)

## binaries: build drpc-server, drpc-agent, drpc-engine and drpc into bin/.
binaries:
	@mkdir -p $(BIN)
	cd server && GOWORK=off go build -ldflags '$(LDFLAGS)' -o $(BIN)/drpc-server ./cmd/drpc-server
	cd agent && GOWORK=off go build -ldflags '$(LDFLAGS)' -o $(BIN)/drpc-agent ./cmd/drpc-agent
	cd tools && GOWORK=off go build -ldflags '$(LDFLAGS)' -o $(BIN)/drpc-engine ./cmd/drpc-engine
	cd tools && GOWORK=off go build -ldflags '$(LDFLAGS)' -o $(BIN)/drpc ./cmd/drpc

## build: compile every package of every module, each with GOWORK=off.
build:
	@set -e; for m in $(MODULES); do echo "== build $$m"; (cd $$m && GOWORK=off go build ./...); done

## test: run every module's tests with the race detector, each with GOWORK=off.
## The schema tests (tools/internal/schemacheck) run buf, which is built
## first, on its own line: about 2 minutes with an empty Go cache.
test:
	@echo "== build buf and buf-plugin-drpc for the schema tests (about 2 min with an empty Go cache, then cached)"
	@cd tools && GOWORK=off go tool -n buf >/dev/null && GOWORK=off go tool -n buf-plugin-drpc >/dev/null
	@set -e; for m in $(MODULES); do echo "== test $$m"; (cd $$m && GOWORK=off go test $(GOTEST_FLAGS) ./...); done

## test-alloc: the tests that count allocations (the transport's, and the
## generated module's on the server), without -race (the race detector makes
## sync.Pool drop items on purpose, so under it they skip).
test-alloc:
	cd drpc && GOWORK=off go test -count=1 -run 'Alloc|Reuses|TooLarge' ./...
	cd api && GOWORK=off go test -count=1 -run 'Alloc' ./...

## lint: buf lint on the schema (STANDARD and the dRPC ID rules of the
## buf-plugin-drpc check plugin, which buf runs as `go tool buf-plugin-drpc`);
## gofmt, go vet and staticcheck on every module.
lint:
	go tool buf lint
	@bad=$$(gofmt -l $(MODULES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== vet+staticcheck $$m"; \
		(cd $$m && GOWORK=off go vet ./... && go tool staticcheck ./...); done

## breaking: buf breaking (FILE and the dRPC ID rules of buf-plugin-drpc) against
## the committed baseline image of the last proto release.
breaking:
	go tool buf breaking --against $(BASELINE)

## generate: regenerate the Go code of the schema: the messages (protoc-gen-go,
## committed under proto/), the dRPC modules (protoc-gen-go-drpc, committed
## under api/) and the list of api packages the drpc tool imports
## (tools/internal/apiall).
generate:
	go tool buf generate

## check-generated: fail if regenerating changes or adds any file under proto/ or api/,
## or tools/internal/apiall (the imports of every api package, for the drpc tool).
GENERATED := proto api tools/internal/apiall
check-generated: generate
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is stale: run 'make generate' and commit the result"; \
		git status --porcelain -- $(GENERATED); git diff --stat -- $(GENERATED); exit 1; fi

## check-modules: every module builds and vets alone (GOWORK=off) and depends only on modules below it.
check-modules:
	./scripts/check-modules

## bench: transport benchmarks (round trips against raw SOCK_SEQPACKET).
bench:
	cd drpc && GOWORK=off go test -run '^$$' -bench . -benchmem ./...

## bench-peers: this project against a raw SOCK_SEQPACKET ping-pong, gRPC, storj drpc
## and net/rpc, server in a second process (about 3 minutes); prints Markdown tables.
## Flags go in BENCH_PEERS_FLAGS, e.g. BENCH_PEERS_FLAGS='-rounds 5 -json bench.json'.
bench-peers:
	cd tools && GOWORK=off go build -o $(BIN)/bench-peers ./cmd/bench-peers
	$(BIN)/bench-peers $(BENCH_PEERS_FLAGS)

## baseline: refresh the breaking-change baseline; only when a proto/vX.Y.Z tag is cut (see RELEASING.md).
baseline:
	go tool buf build -o $(BASELINE)

## api-check: each Go module's exported API against its baseline under
## breaking/api/ (its last release), with golang.org/x/exp/apidiff: fails on an
## incompatible change the module's version does not allow (see RELEASING.md).
api-check:
	cd tools && GOWORK=off go run ./cmd/api-check -C ..

## api-baseline: rewrite the API baselines from the modules as they are now;
## at a release, MODULE=<folder> RELEASE=vX.Y.Z (see RELEASING.md).
api-baseline:
	cd tools && GOWORK=off go run ./cmd/api-check -C .. -update $(if $(RELEASE),-version $(RELEASE)) $(MODULE)

## install: the four binaries, the systemd units (pointed at BINDIR), a
## tmpfiles.d entry for /run/daos_agent and /run/daos_server, and the
## configurations in SYSCONFDIR/drpc (kept if present). PREFIX=/usr/local,
## DESTDIR, BINDIR, SYSCONFDIR=/etc, UNITDIR, TMPFILESDIR (scripts/install).
install: binaries
	BIN='$(BIN)' DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' SYSCONFDIR='$(SYSCONFDIR)' \
		UNITDIR='$(UNITDIR)' TMPFILESDIR='$(TMPFILESDIR)' ./scripts/install

## uninstall: remove what install put there, except the configuration.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,drpc-server drpc-agent drpc-engine drpc) \
		$(addprefix $(DESTDIR)$(UNITDIR)/,drpc-server.service drpc-server.socket drpc-agent.service drpc-agent.socket) \
		$(DESTDIR)$(TMPFILESDIR)/drpc.conf

## packages: dist/drpc_<version>_<arch>.deb and dist/drpc-<version>.<arch>.rpm,
## built by nfpm (`go tool nfpm` of the tools module, run from here through
## go.work as buf is) from `make install` staged in build/pkgroot with
## PREFIX=/usr (packaging/nfpm.yaml).
packages:
	rm -rf $(PKGSTAGE)
	$(MAKE) install DESTDIR=$(PKGSTAGE) PREFIX=/usr VERSION=$(VERSION)
	@mkdir -p $(DIST)
	VERSION=$(VERSION) GOARCH=$$(go env GOARCH) go tool nfpm package --config packaging/nfpm.yaml --packager deb --target $(DIST)/
	VERSION=$(VERSION) GOARCH=$$(go env GOARCH) go tool nfpm package --config packaging/nfpm.yaml --packager rpm --target $(DIST)/

## check-deb: build the .deb, install it with dpkg, run its binaries, verify
## its units with systemd-analyze, purge it and check nothing is left (root,
## Debian; scripts/check-deb).
check-deb:
	./scripts/check-deb

## release-gomod: the go.mod and go.sum of a release commit, for the modules
## in RELEASE_MODULES="proto=v0.1.0 drpc=v0.1.0 ..." (see RELEASING.md).
release-gomod:
	cd tools && GOWORK=off go run ./cmd/release-gomod -C .. $(RELEASE_MODULES)

## ci: everything .ci/run checks.
ci: check-modules test test-alloc lint breaking check-generated api-check check-deb

clean:
	rm -rf $(BIN) $(CURDIR)/build $(DIST)
