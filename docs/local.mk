# docs/ — the manual pages (installed) and the design notes (shipped in
# the tarball through EXTRA_DIST's `docs`, see Makefile.am).
#   dq(1)                  the command, every subcommand and option
#   dq-transport-check(1)  the transport conformance checker
#   dq.conf(5)             the configuration file, every section and key
#   dq-transport(7)        how to write, build, install and test a transport
dist_man_MANS = docs/dq.1 docs/dq-transport-check.1 docs/dq.conf.5 \
	docs/dq-transport.7
