"""Functions routes of the fake: functions, variables, deployments (appwrite 1.9 Functions module)."""
from __future__ import annotations

import io
import tarfile

from .core import ApiError, FakeCore, Request, check_id, now_iso, queries_param


class Functions:
    def __init__(self, core: FakeCore):
        self.lingering: dict[str, set[str]] = {}  # deleted function -> variable keys not yet gone
        self.linger_steps = 0  # requests the delete worker takes (0: at once)
        self.core = core
        self.functions: dict[str, dict] = {}
        self.variables: dict[str, dict[str, dict]] = {}
        self.deployments: dict[str, dict] = {}
        self.archives: dict[str, bytes] = {}
        self.runtimes = {"python-3.12", "python-3.13"}  # _APP_FUNCTIONS_RUNTIMES
        self.build_outcome = "ready"
        self.build_steps = 3
        r = core.route
        r("GET", "/functions", "functions.read")(self.list_functions)
        r("POST", "/functions", "functions.write")(self.create_function)
        r("GET", "/functions/{fn}", "functions.read")(self.get_function)
        r("PUT", "/functions/{fn}", "functions.write")(self.update_function)
        r("DELETE", "/functions/{fn}", "functions.write")(self.delete_function)
        r("PATCH", "/functions/{fn}/deployment", "functions.write")(self.activate)
        r("GET", "/functions/{fn}/variables", "functions.read")(self.list_variables)
        r("POST", "/functions/{fn}/variables", "functions.write")(self.create_variable)
        r("PUT", "/functions/{fn}/variables/{var}", "functions.write")(self.update_variable)
        r("DELETE", "/functions/{fn}/variables/{var}", "functions.write")(self.delete_variable)
        r("POST", "/functions/{fn}/deployments", "functions.write")(self.create_deployment)
        r("GET", "/functions/{fn}/deployments/{dep}", "functions.read")(self.get_deployment)
        r("GET", "/proxy/rules", "rules.read")(self.list_rules)
        self.rules: list[dict] = []

    def _fn(self, fn: str) -> dict:
        if fn not in self.functions:
            raise ApiError(404, "function_not_found", "Function with the requested ID could not be found.")
        return self.functions[fn]

    def list_functions(self, req: Request):
        items = list(self.functions.values())
        return 200, {"total": len(items), "functions": items}

    def _settings(self, body: dict, record: dict) -> None:
        runtime = body.get("runtime", record.get("runtime"))
        if runtime not in self.runtimes:
            raise ApiError(400, "function_runtime_unsupported", f'Runtime "{runtime}" is not supported')
        timeout = body.get("timeout", record.get("timeout", 15))
        if not 1 <= int(timeout) <= 900:
            raise ApiError(400, "general_argument_invalid", "Invalid `timeout` param")
        for key, default in (("name", ""), ("execute", []), ("events", []), ("schedule", ""), ("enabled", True),
                             ("logging", True), ("entrypoint", ""), ("commands", ""), ("scopes", [])):
            if key in body and body[key] is not None:
                record[key] = body[key]
            record.setdefault(key, default)
        record.update(runtime=runtime, timeout=int(timeout), **{"$updatedAt": now_iso()})

    def create_function(self, req: Request):
        fn = check_id(req.body.get("functionId"), "functionId")
        if fn in self.functions:
            raise ApiError(409, "function_already_exists", "Function with the requested ID already exists.")
        t = now_iso()
        record = {"$id": fn, "$createdAt": t, "live": True, "deploymentRetention": 0, "deploymentId": "",
                  "deploymentCreatedAt": "", "latestDeploymentId": "", "latestDeploymentCreatedAt": "",
                  "latestDeploymentStatus": "", "vars": [], "version": "v5", "installationId": "",
                  "providerRepositoryId": "", "providerBranch": "", "providerRootDirectory": "",
                  "providerSilentMode": False,
                  "buildSpecification": "s-1vcpu-512mb", "runtimeSpecification": "s-1vcpu-512mb"}
        if self.core.at_least("1.9.5"):  # 1.9.0's Func model has neither (capture fn-create)
            record.update(providerBranches=[], providerPaths=[])
        self._settings(req.body, record)
        self.functions[fn] = record
        self.variables[fn] = {}
        # A function domain is created with the function (Functions/Http/Functions/Create.php ~L361).
        rule_id = check_id("unique()")
        self.rules.append({"$id": rule_id, "$createdAt": t, "$updatedAt": t, "domain": f"{rule_id}.functions.appwrite.test",
                           "type": "deployment", "trigger": "manual", "redirectUrl": "", "redirectStatusCode": 301,
                           "deploymentId": "", "deploymentResourceType": "function", "deploymentResourceId": fn,
                           "deploymentVcsProviderBranch": "", "status": "verified", "logs": "", "renewAt": ""})
        return 201, record

    def get_function(self, req: Request, fn: str):
        return 200, self._fn(fn)

    def update_function(self, req: Request, fn: str):
        record = self._fn(fn)
        self._settings(req.body, record)
        return 200, record

    def delete_function(self, req: Request, fn: str):
        self._fn(fn)
        del self.functions[fn]
        # The old function's variables stay until the delete worker runs: a new function with
        # this ID gets 409 variable_already_exists for those keys meanwhile (issue 8 §4).
        keys = {v["key"] for v in self.variables.pop(fn, {}).values()}
        if keys:
            self.lingering[fn] = keys
            self.core.later(lambda: self.lingering.pop(fn, None), steps=self.linger_steps)
        self.rules = [r for r in self.rules if r["deploymentResourceId"] != fn]
        return 204, None

    def list_variables(self, req: Request, fn: str):
        self._fn(fn)
        items = [self._shown(v) for v in self.variables[fn].values()]
        return 200, {"total": len(items), "variables": items}

    @staticmethod
    def _shown(var: dict) -> dict:
        return {**var, "value": "" if var["secret"] else var["value"]}  # secrets are write-only

    def create_variable(self, req: Request, fn: str):
        self._fn(fn)
        key = req.body.get("key")
        if any(v["key"] == key for v in self.variables[fn].values()) or key in self.lingering.get(fn, ()):
            raise ApiError(409, "variable_already_exists", "Variable with the same ID already exists in this project.")
        # 1.9.0 has no variableId param: the ID is random and the one sent is dropped
        # (captures var-create-with-id, var-get-by-requested-id); 1.9.5 keeps it.
        sent = req.body.get("variableId") if self.core.at_least("1.9.5") else None
        var_id = check_id(sent or "unique()", "variableId")
        t = now_iso()
        var = {"$id": var_id, "$createdAt": t, "$updatedAt": t, "key": key, "value": req.body.get("value", ""),
               "secret": bool(req.body.get("secret")), "resourceType": "function", "resourceId": fn}
        self.variables[fn][var_id] = var
        return 201, self._shown(var)

    def update_variable(self, req: Request, fn: str, var: str):
        self._fn(fn)
        if var not in self.variables[fn]:
            raise ApiError(404, "variable_not_found", "Variable with the requested ID could not be found.")
        record = self.variables[fn][var]
        if not self.core.at_least("1.9.5") and "key" not in req.body:
            raise ApiError(400, "general_argument_invalid", 'Param "key" is not optional.')
        if record["secret"] and req.body.get("secret") is False:
            raise ApiError(400, "variable_cannot_unset_secret", "Secret variables cannot be marked as non-secret.")
        record.update(key=req.body.get("key", record["key"]), value=req.body.get("value", record["value"]),
                      secret=bool(req.body.get("secret", record["secret"])), **{"$updatedAt": now_iso()})
        return 200, self._shown(record)

    def delete_variable(self, req: Request, fn: str, var: str):
        self._fn(fn)
        self.variables[fn].pop(var, None)
        return 204, None

    def create_deployment(self, req: Request, fn: str):
        record = self._fn(fn)
        code = req.files.get("code")
        if not code:
            raise ApiError(400, "storage_file_empty", "Empty file passed to the endpoint.")
        try:
            with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as tar:
                names = tar.getnames()
        except tarfile.TarError:
            raise ApiError(400, "storage_invalid_file", "Invalid file") from None
        dep_id = check_id("unique()")
        t = now_iso()
        entrypoint = req.body.get("entrypoint") or record["entrypoint"]
        dep = {"$id": dep_id, "$createdAt": t, "$updatedAt": t, "type": "manual", "resourceId": fn,
               "resourceType": "functions", "entrypoint": entrypoint, "sourceSize": len(code), "buildSize": 0,
               "totalSize": len(code), "buildId": "", "activate": req.body.get("activate") == "true",
               "screenshotLight": "", "screenshotDark": "", "status": "waiting", "buildLogs": "",
               "buildDuration": 0, "providerRepositoryName": "", "providerRepositoryOwner": "",
               "providerRepositoryUrl": "", "providerCommitHash": "", "providerCommitAuthorUrl": "",
               "providerCommitAuthor": "", "providerCommitMessage": "", "providerCommitUrl": "",
               "providerBranch": "", "providerBranchUrl": ""}
        self.deployments[dep_id] = dep
        self.archives[dep_id] = code
        record.update(latestDeploymentId=dep_id, latestDeploymentCreatedAt=t, latestDeploymentStatus="waiting")

        def step(status):
            def run():
                dep["status"] = status
                record["latestDeploymentStatus"] = status
                if status == "failed":
                    dep["buildLogs"] = "fake build: pip install -r requirements.txt\nERROR: No matching distribution"
                if status == "ready" and dep["activate"]:
                    record.update(deploymentId=dep_id, deploymentCreatedAt=t)
            return run
        if entrypoint not in names:
            self.core.later(step("failed"))
            dep["buildLogs"] = f"entrypoint {entrypoint} not found in the archive"
        else:
            self.core.later(step("processing"), 1)
            self.core.later(step("building"), 2)
            self.core.later(step(self.build_outcome), self.build_steps)
        return 202, dep

    def list_rules(self, req: Request):
        rules = self.rules
        for query in queries_param(req):
            if query.get("method") == "equal":
                rules = [r for r in rules if r.get(query["attribute"]) in query["values"]]
        return 200, {"total": len(rules), "rules": rules}

    def get_deployment(self, req: Request, fn: str, dep: str):
        self._fn(fn)
        if dep not in self.deployments:
            raise ApiError(404, "deployment_not_found", "Deployment with the requested ID could not be found.")
        return 200, self.deployments[dep]

    def activate(self, req: Request, fn: str):
        record = self._fn(fn)
        dep = self.deployments.get(req.body.get("deploymentId"))
        if dep is None:
            raise ApiError(404, "deployment_not_found", "Deployment with the requested ID could not be found.")
        record.update(deploymentId=dep["$id"], deploymentCreatedAt=dep["$createdAt"])
        return 200, record
