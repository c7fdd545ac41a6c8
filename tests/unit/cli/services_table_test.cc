#include "cli/services_table.h"

#include <gtest/gtest.h>

namespace perfd::cli {
namespace {

v1::Worker* AddWorker(v1::Service* s, uint32_t pid, const std::string& app,
                      const std::string& server = "uvicorn") {
  v1::Worker* w = s->add_workers();
  w->set_pid(pid);
  w->set_app_spec(app);
  w->set_server(server);
  return w;
}

TEST(RenderServicesTable, RowsAndDistinctValues) {
  v1::ListServicesResponse list;
  v1::Service* api = list.add_services();
  api->set_name("api");
  api->set_requests_total(123456);
  AddWorker(api, 101, "shop.main:app", "gunicorn");
  AddWorker(api, 102, "shop.main:app");
  v1::Service* idle = list.add_services();
  idle->set_name("billing-service");

  EXPECT_EQ(RenderServicesTable(list),
            "SERVICE          WORKERS  REQUESTS  SERVER            APP            PIDS\n"
            "api                    2    123456  gunicorn,uvicorn  shop.main:app  101,102\n"
            "billing-service        0         0  -                 -              -\n");
}

TEST(RenderServicesTable, ManyWorkersAreElided) {
  v1::ListServicesResponse list;
  v1::Service* s = list.add_services();
  s->set_name("big");
  for (uint32_t pid = 1; pid <= 20; ++pid) AddWorker(s, pid, "big:app");
  const std::string out = RenderServicesTable(list);
  EXPECT_NE(out.find("1,2,3,4,5,6,7,8,…\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" 20 "), std::string::npos) << out;
}

TEST(RenderServicesTable, HostileNamesCannotEmitEscapeSequences) {
  v1::ListServicesResponse list;
  v1::Service* s = list.add_services();
  s->set_name("svc\x1b[2J");
  AddWorker(s, 7, "evil\x1b]0;title\x07:app\xc2\x9b", "uvi\ncorn");
  const std::string out = RenderServicesTable(list);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
  EXPECT_EQ(out,
            "SERVICE     WORKERS  REQUESTS  SERVER       APP                             PIDS\n"
            "svc\\x1b[2J        1         0  uvi\\x0acorn  evil\\x1b]0;title\\x07:app\\u009b  7\n");
}

TEST(RenderServicesTable, PodColumnsOnlyWhenAWorkerRunsInAPod) {
  v1::ListServicesResponse list;
  v1::Service* s = list.add_services();
  s->set_name("shop");
  v1::Worker* named = AddWorker(s, 7, "shop:app");
  named->set_pod_uid("0f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f");
  named->set_container_id(std::string(64, 'a'));
  named->set_k8s_namespace("prod");
  named->set_k8s_pod("shop-7d9f");
  named->set_k8s_container("api");
  // The API has not named this one (yet): UID and short container ID.
  v1::Worker* bare = AddWorker(s, 8, "shop:app");
  bare->set_pod_uid("11111111-4a5b-6c7d-8e9f-0a1b2c3d4e5f");
  bare->set_container_id("0123456789ab" + std::string(52, 'c'));
  AddWorker(list.add_services(), 9, "host:app")->set_server("uvicorn");
  list.mutable_services(1)->set_name("host");
  const std::string pad(56, ' ');  // POD is as wide as shop's cell
  EXPECT_EQ(RenderServicesTable(list),
            "SERVICE  WORKERS  REQUESTS  SERVER   APP       PIDS  POD" + pad +
                "  CONTAINER\n"
                "shop           2         0  uvicorn  shop:app  7,8   "
                "prod/shop-7d9f,pod-uid:11111111-4a5b-6c7d-8e9f-0a1b2c3d4e5f  api,0123456789ab\n"
                "host           1         0  uvicorn  host:app  9     -  " +
                pad + "  -\n");
}

TEST(RenderServicesTable, EmptySaysSo) {
  EXPECT_EQ(RenderServicesTable({}),
            "SERVICE  WORKERS  REQUESTS  SERVER  APP  PIDS\n(no services traced yet)\n");
}

}  // namespace
}  // namespace perfd::cli
