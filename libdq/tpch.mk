# libdq/tpch.mk — (being written)
