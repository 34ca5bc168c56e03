#include <cstdio>

#include <gort/gort.hpp>

int main() {
  return gort::run([] {
    gort::WaitGroup wg;
    int sum = 0;
    wg.add(1);
    gort::go([&] {
      for (int i = 1; i <= 10; ++i) sum += i;
      wg.done();
    });
    wg.wait();
    std::printf("consumer: sum=%d on %d procs\n", sum, gort::procs());
    return sum == 55 ? 0 : 1;
  });
}
