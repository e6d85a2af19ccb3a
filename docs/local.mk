# docs/local.mk — (being written)
