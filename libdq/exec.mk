# libdq/exec.mk — (being written)
