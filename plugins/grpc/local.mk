# plugins/grpc/local.mk — (being written)
