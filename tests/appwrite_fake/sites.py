"""Sites routes of the fake: sites, variables, deployments, activation (appwrite 1.9 Sites module).

From the server source, src/Appwrite/Platform/Modules/Sites/Http/:
- Sites/Create.php: POST /v1/sites, scope sites.write, 201 MODEL_SITE; `framework` and
  `buildRuntime` are whitelists, `adapter` static|ssr, `timeout` 1.._APP_SITES_TIMEOUT (30).
- Deployments/Create.php: POST /v1/sites/:siteId/deployments, multipart `code` (a .tar.gz:
  FileExt TYPE_GZIP, else storage_file_type_unsupported), `activate`, 202 MODEL_DEPLOYMENT with
  resourceType "sites"; it creates a proxy rule `{uniqueId}.{sitesDomain}` with
  deploymentResourceType "site" for the deployment, and queues the build.
- Sites/Deployment/Update.php: PATCH /v1/sites/:siteId/deployment {deploymentId}, 200 MODEL_SITE.
- Deployments/Get.php: GET /v1/sites/:siteId/deployments/:deploymentId.
- Variables/*: GET|POST /v1/sites/:siteId/variables, PUT /v1/sites/:siteId/variables/:variableId.
The build worker (Workers/Builds.php) activates an `activate` deployment once it is ready.
"""
from __future__ import annotations

import io
import tarfile

from .core import ApiError, FakeCore, Request, check_id, now_iso

FRAMEWORKS = {"other", "react", "vue", "svelte-kit", "nextjs", "nuxt", "astro", "angular", "remix", "vite"}
RUNTIMES = {"static-1", "node-22"}  # _APP_SITES_RUNTIMES in the server's .env
SITES_DOMAIN = "sites.appwrite.test"  # _APP_DOMAIN_SITES


class Sites:
    def __init__(self, core: FakeCore, functions):
        self.core = core
        self.functions = functions  # proxy rules live there (GET /proxy/rules)
        self.sites: dict[str, dict] = {}
        self.variables: dict[str, dict[str, dict]] = {}
        self.deployments: dict[str, dict] = {}
        self.archives: dict[str, bytes] = {}
        self.build_outcome = "ready"
        r = core.route
        r("GET", "/sites/{site}", "sites.read")(self.get_site)
        r("POST", "/sites", "sites.write")(self.create_site)
        r("PUT", "/sites/{site}", "sites.write")(self.update_site)
        r("PATCH", "/sites/{site}/deployment", "sites.write")(self.activate)
        r("POST", "/sites/{site}/deployments", "sites.write")(self.create_deployment)
        r("GET", "/sites/{site}/deployments/{dep}", "sites.read")(self.get_deployment)
        r("GET", "/sites/{site}/variables", "sites.read")(self.list_variables)
        r("POST", "/sites/{site}/variables", "sites.write")(self.create_variable)
        r("PUT", "/sites/{site}/variables/{var}", "sites.write")(self.update_variable)

    def _site(self, site: str) -> dict:
        if site not in self.sites:
            raise ApiError(404, "site_not_found", "Site with the requested ID could not be found.")
        return self.sites[site]

    def _settings(self, body: dict, record: dict) -> None:
        framework = body.get("framework", record.get("framework"))
        if framework not in FRAMEWORKS:
            raise ApiError(400, "general_argument_invalid", "Invalid `framework` param: Value must be one of (other, ...)")
        runtime = body.get("buildRuntime", record.get("buildRuntime"))
        if runtime not in RUNTIMES:
            raise ApiError(400, "general_argument_invalid", f"Invalid `buildRuntime` param: Value must be one of ({', '.join(sorted(RUNTIMES))})")
        adapter = body.get("adapter", record.get("adapter", ""))
        if adapter not in ("", "static", "ssr"):
            raise ApiError(400, "general_argument_invalid", "Invalid `adapter` param: Value must be one of (static, ssr)")
        timeout = int(body.get("timeout", record.get("timeout", 30)))
        if not 1 <= timeout <= 30:
            raise ApiError(400, "general_argument_invalid", "Invalid `timeout` param: Value must be a valid range between 1 and 30")
        for key, default in (("name", ""), ("enabled", True), ("logging", True), ("installCommand", ""),
                             ("buildCommand", ""), ("startCommand", ""), ("outputDirectory", ""), ("fallbackFile", "")):
            if key in body and body[key] is not None:
                record[key] = body[key]
            record.setdefault(key, default)
        record.update(framework=framework, buildRuntime=runtime, adapter=adapter, timeout=timeout,
                      **{"$updatedAt": now_iso()})

    def create_site(self, req: Request):
        site = check_id(req.body.get("siteId"), "siteId")
        if site in self.sites:
            raise ApiError(409, "site_already_exists", "Site with the requested ID already exists.")
        t = now_iso()
        record = {"$id": site, "$createdAt": t, "live": True, "deploymentRetention": 0, "deploymentId": "",
                  "deploymentCreatedAt": "", "deploymentScreenshotLight": "", "deploymentScreenshotDark": "",
                  "latestDeploymentId": "", "latestDeploymentCreatedAt": "", "latestDeploymentStatus": "",
                  "vars": [], "installationId": "", "providerRepositoryId": "", "providerBranch": "",
                  "providerRootDirectory": "", "providerSilentMode": False, "providerBranches": [], "providerPaths": [],
                  "buildSpecification": "s-1vcpu-512mb", "runtimeSpecification": "s-1vcpu-512mb"}
        self._settings(req.body, record)
        self.sites[site] = record
        self.variables[site] = {}
        return 201, record

    def get_site(self, req: Request, site: str):
        return 200, self._site(site)

    def update_site(self, req: Request, site: str):
        record = self._site(site)
        self._settings(req.body, record)
        return 200, record

    def create_deployment(self, req: Request, site: str):
        record = self._site(site)
        code = req.files.get("code")
        if not code:
            raise ApiError(400, "storage_file_empty", "No file sent")
        try:
            with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as tar:
                names = set(tar.getnames())
        except tarfile.TarError:
            raise ApiError(400, "storage_file_type_unsupported", "The given file extension is not supported.") from None
        dep_id = check_id("unique()")
        t = now_iso()
        dep = {"$id": dep_id, "$createdAt": t, "$updatedAt": t, "type": "manual", "resourceId": site,
               "resourceType": "sites", "entrypoint": "", "sourceSize": len(code), "buildSize": 0,
               "totalSize": len(code), "buildId": "", "activate": req.body.get("activate") in ("true", "1"),
               "screenshotLight": "", "screenshotDark": "", "status": "waiting", "buildLogs": "",
               "buildDuration": 0, "providerRepositoryName": "", "providerRepositoryOwner": "",
               "providerRepositoryUrl": "", "providerCommitHash": "", "providerCommitAuthorUrl": "",
               "providerCommitAuthor": "", "providerCommitMessage": "", "providerCommitUrl": "",
               "providerBranch": "", "providerBranchUrl": ""}
        self.deployments[dep_id] = dep
        self.archives[dep_id] = code
        record.update(latestDeploymentId=dep_id, latestDeploymentCreatedAt=t, latestDeploymentStatus="waiting")
        rule_id = check_id("unique()")
        self.functions.rules.append({
            "$id": rule_id, "$createdAt": t, "$updatedAt": t, "domain": f"{rule_id}.{SITES_DOMAIN}",
            "type": "deployment", "trigger": "deployment", "redirectUrl": "", "redirectStatusCode": 301,
            "deploymentId": dep_id, "deploymentResourceType": "site", "deploymentResourceId": site,
            "deploymentVcsProviderBranch": "", "status": "verified", "logs": "", "renewAt": ""})
        output = (req.body.get("outputDirectory") or record["outputDirectory"] or "./").strip("./")
        index = f"{output}/index.html" if output else "index.html"

        def step(status):
            def run():
                dep["status"] = status
                record["latestDeploymentStatus"] = status
                if status == "failed":
                    dep["buildLogs"] = f"fake build: {index} not found in the output directory"
                if status == "ready" and dep["activate"]:
                    record.update(deploymentId=dep_id, deploymentCreatedAt=t)
            return run
        outcome = self.build_outcome if index in names else "failed"
        self.core.later(step("processing"), 1)
        self.core.later(step(outcome), 2)
        return 202, dep

    def get_deployment(self, req: Request, site: str, dep: str):
        self._site(site)
        if dep not in self.deployments or self.deployments[dep]["resourceId"] != site:
            raise ApiError(404, "deployment_not_found", "Deployment with the requested ID could not be found.")
        return 200, self.deployments[dep]

    def activate(self, req: Request, site: str):
        record = self._site(site)
        dep = self.deployments.get(req.body.get("deploymentId"))
        if dep is None or dep["resourceId"] != site:
            raise ApiError(404, "deployment_not_found", "Deployment with the requested ID could not be found.")
        if dep["status"] != "ready":
            raise ApiError(400, "build_not_ready", "Build not ready")
        record.update(deploymentId=dep["$id"], deploymentCreatedAt=dep["$createdAt"], **{"$updatedAt": now_iso()})
        return 200, record

    def list_variables(self, req: Request, site: str):
        self._site(site)
        items = list(self.variables[site].values())
        return 200, {"total": len(items), "variables": items}

    def create_variable(self, req: Request, site: str):
        self._site(site)
        key = req.body.get("key")
        if any(v["key"] == key for v in self.variables[site].values()):
            raise ApiError(409, "variable_already_exists", "Variable with the same ID already exists in this project.")
        var_id = check_id(req.body.get("variableId") or "unique()", "variableId")
        t = now_iso()
        var = {"$id": var_id, "$createdAt": t, "$updatedAt": t, "key": key, "value": req.body.get("value", ""),
               "secret": bool(req.body.get("secret")), "resourceType": "site", "resourceId": site}
        self.variables[site][var_id] = var
        return 201, var

    def update_variable(self, req: Request, site: str, var: str):
        self._site(site)
        if var not in self.variables[site]:
            raise ApiError(404, "variable_not_found", "Variable with the requested ID could not be found.")
        record = self.variables[site][var]
        record.update(key=req.body.get("key", record["key"]), value=req.body.get("value", record["value"]),
                      **{"$updatedAt": now_iso()})
        return 200, record
