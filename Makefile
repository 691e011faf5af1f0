# orgsync — the two commands a new machine needs:
#   make demo   installs the AWS emulator, seeds a demo organization, syncs it, prints stats
#   make test   installs the emulator and runs every check and test (what CI runs)

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: demo test emulator scim-env lint-env cfn-lint build fmt-check clippy unit bench clean

emulator:
	scripts/moto-env.sh

# scim2-server (pinned in scripts/requirements-scim.txt) into the same .venv: the SCIM server
# the Identity Center SCIM status tests start (tests/support/scim.rs).
scim-env:
	scripts/moto-env.sh --with-scim --quiet >/dev/null

# cfn-lint (pinned in scripts/requirements-lint.txt) into the same .venv.
lint-env:
	scripts/moto-env.sh --with-cfn-lint --quiet >/dev/null

# The CloudFormation templates in deploy/cloudformation/ (tests/ops.rs checks that their
# policies equal `orgsync policy`; cfn-lint checks the rest, every IAM action name included).
cfn-lint: lint-env
	.venv/bin/cfn-lint deploy/cloudformation/*.yaml

build:
	$(CARGO) build --locked

demo: emulator build
	scripts/demo.sh

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

test: emulator scim-env fmt-check cfn-lint
	$(CARGO) test --locked
	$(MAKE) clippy

bench: emulator
	$(CARGO) bench --locked

clean:
	$(CARGO) clean
	rm -rf .venv
