// grpc.testing.TestService/UnaryCall on grpc-go (Debian's 1.33, built offline in GOPATH mode)
// with messages from protoc-gen-go; the service is registered with a hand-written ServiceDesc
// (what protoc-gen-go-grpc would generate for this one method). Same contract as
// grpc-bench-server: "listening on PORT", `response_size` bytes, "rpcs ok=N failed=0" on SIGTERM.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc"

	testpb "grpcbench/testing"
)

var ok int64

func unaryCall(_ interface{}, ctx context.Context, decode func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	request := new(testpb.SimpleRequest)
	if err := decode(request); err != nil {
		return nil, err
	}
	atomic.AddInt64(&ok, 1)
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: make([]byte, request.ResponseSize)}}, nil
}

var testService = grpc.ServiceDesc{
	ServiceName: "grpc.testing.TestService",
	HandlerType: (*interface{})(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "UnaryCall", Handler: unaryCall}},
	Metadata:    "grpc/testing/test.proto",
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: grpc-go-bench-server PORT")
		os.Exit(2)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server := grpc.NewServer(grpc.MaxConcurrentStreams(1000))
	server.RegisterService(&testService, struct{}{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	go func() {
		<-signals
		server.GracefulStop()
	}()
	fmt.Printf("listening on %s\n", os.Args[1])
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("rpcs ok=%d failed=0\n", atomic.LoadInt64(&ok))
}
