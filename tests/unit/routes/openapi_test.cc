#include "daemon/routes/openapi.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "daemon/routes/route_table.h"

namespace perfd {
namespace {

// What FastAPI 0.92 serves at /openapi.json for a small shop app: path
// operations with path/query parameters, request bodies, and the shared
// validation-error schemas under components.
constexpr const char* kFastApiDocument = R"json({
  "openapi": "3.0.2",
  "info": {"title": "Shop API", "version": "0.1.0"},
  "paths": {
    "/": {
      "get": {
        "summary": "Root",
        "operationId": "root__get",
        "responses": {"200": {"description": "Successful Response",
                              "content": {"application/json": {"schema": {}}}}}
      }
    },
    "/users/me": {
      "get": {
        "summary": "Read Me",
        "operationId": "read_me_users_me_get",
        "responses": {"200": {"description": "Successful Response",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}},
        "security": [{"OAuth2PasswordBearer": []}]
      }
    },
    "/users/{user_id}": {
      "get": {
        "summary": "Read User",
        "operationId": "read_user_users__user_id__get",
        "parameters": [{"required": true, "schema": {"title": "User Id", "type": "integer"},
                        "name": "user_id", "in": "path"}],
        "responses": {
          "200": {"description": "Successful Response",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}},
          "422": {"description": "Validation Error",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }
      },
      "delete": {
        "summary": "Delete User",
        "operationId": "delete_user_users__user_id__delete",
        "parameters": [{"required": true, "schema": {"title": "User Id", "type": "integer"},
                        "name": "user_id", "in": "path"}],
        "responses": {"204": {"description": "Successful Response"}}
      }
    },
    "/users/{user_id}/orders/{order_id}": {
      "get": {
        "summary": "Read Order",
        "operationId": "read_order_users__user_id__orders__order_id__get",
        "parameters": [
          {"required": true, "schema": {"title": "User Id", "type": "integer"}, "name": "user_id", "in": "path"},
          {"required": true, "schema": {"title": "Order Id", "type": "string", "format": "uuid"}, "name": "order_id", "in": "path"},
          {"required": false, "schema": {"title": "Expand", "type": "boolean", "default": false}, "name": "expand", "in": "query"}
        ],
        "responses": {"200": {"description": "Successful Response",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}}
      }
    },
    "/orders": {
      "post": {
        "summary": "Create Order",
        "operationId": "create_order_orders_post",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderIn"}}},
                        "required": true},
        "responses": {"201": {"description": "Successful Response",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}}
      }
    },
    "/files/{file_path}": {
      "get": {
        "summary": "Read File",
        "operationId": "read_file_files__file_path__get",
        "parameters": [{"required": true, "schema": {"title": "File Path", "type": "string"},
                        "name": "file_path", "in": "path"}],
        "responses": {"200": {"description": "Successful Response",
                              "content": {"application/json": {"schema": {}}}}}
      }
    }
  },
  "components": {
    "schemas": {
      "HTTPValidationError": {
        "title": "HTTPValidationError", "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "array",
                                  "items": {"$ref": "#/components/schemas/ValidationError"}}}
      },
      "Order": {
        "title": "Order", "required": ["id", "user_id", "total"], "type": "object",
        "properties": {"id": {"title": "Id", "type": "string", "format": "uuid"},
                       "user_id": {"title": "User Id", "type": "integer"},
                       "total": {"title": "Total", "type": "number"}}
      },
      "OrderIn": {
        "title": "OrderIn", "required": ["items"], "type": "object",
        "properties": {"items": {"title": "Items", "type": "array", "items": {"type": "integer"}}}
      },
      "User": {
        "title": "User", "required": ["id", "name"], "type": "object",
        "properties": {"id": {"title": "Id", "type": "integer"},
                       "name": {"title": "Name", "type": "string"}}
      },
      "ValidationError": {
        "title": "ValidationError", "required": ["loc", "msg", "type"], "type": "object",
        "properties": {"loc": {"title": "Location", "type": "array",
                               "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                       "msg": {"title": "Message", "type": "string"},
                       "type": {"title": "Error Type", "type": "string"}}
      }
    },
    "securitySchemes": {"OAuth2PasswordBearer": {"type": "oauth2",
                        "flows": {"password": {"scopes": {}, "tokenUrl": "token"}}}}
  }
})json";

TEST(OpenApiTest, FastApiDocument) {
  std::string error;
  auto paths = ParseOpenApiPaths(kFastApiDocument, &error);
  ASSERT_TRUE(paths.has_value()) << error;
  EXPECT_EQ(*paths,
            (std::vector<std::string>{"/", "/files/{file_path}", "/orders", "/users/me",
                                      "/users/{user_id}", "/users/{user_id}/orders/{order_id}"}));

  // End to end with the route table, as the daemon uses it.
  RouteTable table({}, 100);
  table.SetOpenApiTemplates(*paths);
  EXPECT_EQ(table.Route("/users/me"), "/users/me");
  EXPECT_EQ(table.Route("/users/17"), "/users/{user_id}");
  EXPECT_EQ(table.Route("/users/17/orders/123e4567-e89b-12d3-a456-426614174000"),
            "/users/{user_id}/orders/{order_id}");
  EXPECT_EQ(table.Route("/"), "/");
  // FastAPI drops ":path" from the document, so deeper paths match no
  // template (a routes.rules entry "/files/{file_path:path}" restores them).
  EXPECT_EQ(table.Route("/files/a.txt"), "/files/{file_path}");
  EXPECT_EQ(table.Route("/files/2024/a.txt"), kUnmatchedRoute);
}

TEST(OpenApiTest, SwaggerBasePathIsPrefixed) {
  auto paths = ParseOpenApiPaths(
      R"({"swagger": "2.0", "basePath": "/api/v2/", "paths": {"/pets/{petId}": {}, "/pets": {}}})",
      nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_EQ(*paths, (std::vector<std::string>{"/api/v2/pets", "/api/v2/pets/{petId}"}));

  auto root =
      ParseOpenApiPaths(R"({"swagger": "2.0", "basePath": "/", "paths": {"/a": {}}})", nullptr);
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(*root, (std::vector<std::string>{"/a"}));
}

TEST(OpenApiTest, ServersAndExtensionsAreNotPaths) {
  auto paths = ParseOpenApiPaths(
      R"({"openapi": "3.1.0", "servers": [{"url": "/prefix"}], "basePath": "/ignored",
          "paths": {"/a": {}, "x-internal": {"note": 1}}})",
      nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_EQ(*paths, (std::vector<std::string>{"/a"}));
}

TEST(OpenApiTest, EmptyPathsIsValid) {
  auto paths = ParseOpenApiPaths(R"({"openapi": "3.0.2", "paths": {}})", nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_TRUE(paths->empty());
}

TEST(OpenApiTest, MalformedInput) {
  std::string error;
  EXPECT_FALSE(ParseOpenApiPaths("", &error));
  EXPECT_NE(error.find("JSON"), std::string::npos);
  error.clear();
  EXPECT_FALSE(ParseOpenApiPaths("<html><body>Not Found</body></html>", &error));
  EXPECT_FALSE(error.empty());
  // A truncated document (the fetch timed out half way).
  std::string truncated(kFastApiDocument, 300);
  EXPECT_FALSE(ParseOpenApiPaths(truncated, &error));
  EXPECT_FALSE(ParseOpenApiPaths(R"(["/a", "/b"])", &error));
  EXPECT_NE(error.find("object"), std::string::npos);
  EXPECT_FALSE(ParseOpenApiPaths(R"({"detail": "Not Found"})", &error));
  EXPECT_NE(error.find("paths"), std::string::npos);
  EXPECT_FALSE(ParseOpenApiPaths(R"({"openapi": "3.0.2", "paths": ["/a"]})", &error));
  EXPECT_FALSE(ParseOpenApiPaths(R"({"paths": {}} trailing)", nullptr));
}

// Finding 9 / issue 9: a hostile document of many paths is read as a stream
// and costs only the paths kept; the rest are counted.
TEST(OpenApiTest, PathsPastTheCapAreCountedNotKept) {
  std::string doc = R"({"openapi":"3.0.2","paths":{)";
  const size_t n = 100000;
  for (size_t i = 0; i < n; ++i) doc += (i ? ",\"/p" : "\"/p") + std::to_string(i) + "\":{}";
  doc += R"(},"info":{"title":"t"}})";
  uint64_t omitted = 0;
  std::string error;
  auto paths = ParseOpenApiPaths(doc, &error, 2000, &omitted);
  ASSERT_TRUE(paths.has_value()) << error;
  EXPECT_EQ(paths->size(), 2000u);
  EXPECT_EQ(omitted, n - 2000);
  // The first 2000 in document order, then sorted.
  EXPECT_EQ(paths->front(), "/p0");
  EXPECT_TRUE(std::is_sorted(paths->begin(), paths->end()));

  RouteTable table({}, 100);
  table.SetOpenApiTemplates(*paths, omitted);
  EXPECT_EQ(table.refused().at("too_many"), n - 2000);
  EXPECT_EQ(table.openapi_templates(), 2000u);
}

TEST(OpenApiTest, OnlyTopLevelPathsCount) {
  auto paths = ParseOpenApiPaths(
      R"({"components": {"paths": {"/nested": {}}}, "paths": {"/a": {"paths": {"/deep": {}}}},
          "x": [{"paths": {"/in-array": {}}}]})",
      nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_EQ(*paths, (std::vector<std::string>{"/a"}));
}

TEST(OpenApiTest, RepeatedKeysAsInAJsonTree) {
  // The last "paths" wins; a path listed twice is one template.
  auto paths = ParseOpenApiPaths(
      R"({"paths": {"/old": {}}, "paths": {"/b": {}, "/a": {}, "/b": {}}})", nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_EQ(*paths, (std::vector<std::string>{"/a", "/b"}));
  std::string error;
  EXPECT_FALSE(ParseOpenApiPaths(R"({"paths": {"/a": {}}, "paths": "none"})", &error));
  EXPECT_NE(error.find("not an object"), std::string::npos) << error;
}

// Fails fuzz/openapi_fuzz.cc's check against a JSON tree: an earlier
// string basePath used to survive a later one that is no string.
TEST(OpenApiTest, RepeatedBasePathAsInAJsonTree) {
  for (const char* later : {"1", "null", R"(["/y"])", R"({"b": "/y"})"}) {
    auto paths = ParseOpenApiPaths(R"({"swagger": "2.0", "basePath": "/x", "basePath": )" +
                                       std::string(later) + R"(, "paths": {"/a": {}}})",
                                   nullptr);
    ASSERT_TRUE(paths.has_value()) << later;
    EXPECT_EQ(*paths, (std::vector<std::string>{"/a"})) << later;
  }
  auto paths = ParseOpenApiPaths(
      R"({"swagger": "2.0", "basePath": 1, "basePath": "/x", "paths": {"/a": {}}})", nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_EQ(*paths, (std::vector<std::string>{"/x/a"}));
}

TEST(OpenApiTest, DeepNestingIsNotARecursion) {
  // 1,000,000 nested arrays inside a path item: parsed iteratively.
  std::string doc =
      R"({"paths": {"/a": )" + std::string(1000000, '[') + std::string(1000000, ']') + "}}";
  auto paths = ParseOpenApiPaths(doc, nullptr);
  ASSERT_TRUE(paths.has_value());
  EXPECT_EQ(*paths, (std::vector<std::string>{"/a"}));
}

}  // namespace
}  // namespace perfd
