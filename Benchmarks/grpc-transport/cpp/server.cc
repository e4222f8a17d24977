// grpc.testing.TestService/UnaryCall on gRPC C++ (Debian's 1.51), the callback API that gRPC's
// own examples and benchmarks recommend for servers. Same contract as grpc-bench-server: prints
// "listening on PORT", answers `response_size` bytes, and on SIGTERM shuts down and prints
// "rpcs ok=N failed=0".
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "grpc/testing/test.grpc.pb.h"

namespace {
std::atomic<long> ok{0};

class TestService final : public grpc::testing::TestService::CallbackService {
    grpc::ServerUnaryReactor* UnaryCall(grpc::CallbackServerContext* context, const grpc::testing::SimpleRequest* request,
                                        grpc::testing::SimpleResponse* response) override {
        response->mutable_payload()->set_body(std::string(request->response_size(), 'x'));
        ok.fetch_add(1, std::memory_order_relaxed);
        auto* reactor = context->DefaultReactor();
        reactor->Finish(grpc::Status::OK);
        return reactor;
    }
};
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: grpc-cpp-bench-server PORT\n");
        return 2;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every gRPC thread inherits the mask

    TestService service;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(std::string("127.0.0.1:") + argv[1], grpc::InsecureServerCredentials());
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1000);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    std::printf("listening on %s\n", argv[1]);
    std::fflush(stdout);

    int received = 0;
    sigwait(&signals, &received);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    std::printf("rpcs ok=%ld failed=0\n", ok.load());
    return 0;
}
