# examples/local.mk — (being written)
