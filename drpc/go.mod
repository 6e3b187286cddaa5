module github.com/cc532012/drpc/drpc

go 1.26.7

replace github.com/cc532012/drpc/proto => ../proto
