module github.com/cc532012/drpc/server

go 1.26.7

replace (
	github.com/cc532012/drpc/drpc => ../drpc
	github.com/cc532012/drpc/proto => ../proto
)
