module github.com/cc532012/drpc/agent

go 1.26.7

replace (
	github.com/cc532012/drpc/api => ../api
	github.com/cc532012/drpc/daemon => ../daemon
	github.com/cc532012/drpc/drpc => ../drpc
	github.com/cc532012/drpc/proto => ../proto
)

require (
	github.com/cc532012/drpc/api v0.0.0-00010101000000-000000000000
	github.com/cc532012/drpc/daemon v0.0.0-00010101000000-000000000000
	github.com/cc532012/drpc/drpc v0.0.0-00010101000000-000000000000
	github.com/cc532012/drpc/proto v0.0.0-00010101000000-000000000000
	github.com/spf13/cobra v1.10.2
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.49.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)
