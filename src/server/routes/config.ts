// The config form: the schema as form fields, pre-flight, YAML import and export.
import { createRoute, type z } from '@hono/zod-openapi';
import type { RouteDeps } from '../app.js';
import {
  type ConfigProblem,
  configBodySchema,
  configFormSchema,
  configToYaml,
  configYamlSchema,
  type DetectDevice,
  engineDeviceDetector,
  formFields,
  parsedConfigSchema,
  parseYamlBodySchema,
  preflightConfig,
  preflightReportSchema,
  yamlToConfig,
} from '../config-form/index.js';
import { createRouter } from '../router.js';
import { type ErrorBody, errorBodySchema } from '../schemas.js';
import { BAD_REQUEST, jsonBody, REFUSED_RESPONSES, BODY_REFUSED } from './responses.js';

/** The shared BAD_REQUEST entry, typed so a handler may answer it itself (its `as const` hides it from the handler). */
const BAD_CONFIG = {
  400: jsonBody(
    errorBodySchema,
    'The request or the config in it is not valid: `field` names the key, the message its line',
  ),
};

const jsonRequest = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

const getSchema = createRoute({
  method: 'get',
  path: '/api/config/schema',
  summary: 'Every train config key as a form field, in schema order: type, default, help, choices, bounds, `auto`',
  responses: { 200: jsonBody(configFormSchema, 'The fields'), ...REFUSED_RESPONSES },
});

const preflight = createRoute({
  method: 'post',
  path: '/api/config/preflight',
  summary:
    'Check a train config as `train` would before it starts (keys, workspace paths, base model, pictures) without training; `auto` values with reasons, and the run size on this device',
  request: { body: jsonRequest(configBodySchema) },
  responses: {
    200: jsonBody(preflightReportSchema, 'Every problem found (none is a failure of the request), `auto`, estimate'),
    ...BAD_REQUEST,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const toYaml = createRoute({
  method: 'post',
  path: '/api/config/yaml',
  summary: 'The config as YAML for `train --config`: keys in schema order, each with its help as a comment',
  request: { body: jsonRequest(configBodySchema) },
  responses: {
    200: jsonBody(configYamlSchema, 'The YAML text'),
    ...BAD_CONFIG,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const fromYaml = createRoute({
  method: 'post',
  path: '/api/config/parse',
  summary: 'A YAML train config as JSON; a 400 names the bad line and key (required keys may be missing)',
  request: { body: jsonRequest(parseYamlBodySchema) },
  responses: {
    200: jsonBody(parsedConfigSchema, 'The keys and values the YAML sets'),
    ...BAD_CONFIG,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

export interface ConfigRouteOptions {
  /** How the pre-flight learns the device (default: the engine's `doctor`, asked once). */
  detectDevice?: DetectDevice;
}

export function configRoutes(deps: RouteDeps, options: ConfigRouteOptions = {}) {
  const detectDevice = options.detectDevice ?? engineDeviceDetector(deps.env);
  const fields = formFields();
  return createRouter()
    .openapi(getSchema, (c) => c.json({ fields }, 200))
    .openapi(preflight, async (c) => {
      const { config } = c.req.valid('json');
      const report = await preflightConfig(config, { workspace: deps.workspace, detectDevice, store: deps.store });
      return c.json(report, 200);
    })
    .openapi(toYaml, (c) => {
      const result = configToYaml(c.req.valid('json').config);
      if ('problem' in result) return c.json(problemBody(result.problem), 400);
      return c.json(result, 200);
    })
    .openapi(fromYaml, (c) => {
      const result = yamlToConfig(c.req.valid('json').yaml);
      if ('problem' in result) return c.json(problemBody(result.problem), 400);
      return c.json(result, 200);
    });
}

/** A config problem as the API's error body; `field` names the key (or `yaml` for the text as a whole). */
function problemBody(problem: ConfigProblem): ErrorBody {
  return { error: { code: problem.code, message: problem.message, hint: problem.hint, field: problem.field } };
}
