# libdq/ipc.mk — (being written)
