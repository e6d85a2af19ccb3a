# bench/local.mk — (being written)
