module github.com/cc532012/drpc/api

go 1.26.7

replace (
	github.com/cc532012/drpc/drpc => ../drpc
	github.com/cc532012/drpc/proto => ../proto
)

require (
	github.com/cc532012/drpc/drpc v0.0.0-00010101000000-000000000000
	github.com/cc532012/drpc/proto v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	google.golang.org/protobuf v1.36.12
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
