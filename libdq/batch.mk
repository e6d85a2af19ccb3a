# libdq/batch.mk — (being written)
