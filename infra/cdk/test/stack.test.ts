// Assertion tests for the CDK stack (node --test build/test/). No AWS account, no Docker, no Rust build:
// the function code is a dummy zip per function in a temporary folder.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CONTENT_SECURITY_POLICY_TEMPLATE, FUNCTIONS, M2mStack } from '../lib/m2m-stack';

const CDK_DIR = path.resolve(__dirname, '..', '..');
const REPO_ROOT = path.resolve(CDK_DIR, '..', '..');
const INFRA_DIR = path.join(REPO_ROOT, 'infra');
const FUNCTION_NAMES = ['admin', 'authorizer', 'protected', 'token', 'user', 'whoami'];
const XRAY_ACTIONS = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
const ALARM_ACTIONS = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] };
// An empty zip archive (end-of-central-directory record only).
const EMPTY_ZIP = Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);

type Resource = { Type: string; Properties?: any; Condition?: string; DependsOn?: string[] };
type Statement = { Effect: string; Action: string | string[]; Resource: any; Principal?: any; Condition?: any };

let tmp: string;
let template: Template;
let resources: Record<string, Resource>;

/** The logical id a `Ref`/`Fn::GetAtt` points at, or undefined. */
function target(value: any): string | undefined {
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') return value.Ref;
    if (Array.isArray(value['Fn::GetAtt'])) return value['Fn::GetAtt'][0];
  }
  return undefined;
}

const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Logical id of each deployed Rust function, by name (from FunctionName "<stack>-<name>"). */
function functionIds(): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const m = /-([a-z]+)$/.exec(String(r.Properties?.FunctionName ?? ''));
    if (m) ids[m[1]] = id;
  }
  return ids;
}

/** Every IAM statement attached to a role: inline policies of the role and AWS::IAM::Policy resources. */
function statementsOfRole(roleId: string): Statement[] {
  const out: Statement[] = [];
  for (const p of resources[roleId].Properties?.Policies ?? []) out.push(...p.PolicyDocument.Statement);
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    if ((r.Properties.Roles ?? []).some((ref: any) => target(ref) === roleId)) {
      out.push(...r.Properties.PolicyDocument.Statement);
    }
  }
  return out;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'm2m-cdk-test-'));
  for (const f of FUNCTIONS) {
    fs.mkdirSync(path.join(tmp, f.name), { recursive: true });
    fs.writeFileSync(path.join(tmp, f.name, 'bootstrap.zip'), EMPTY_ZIP);
  }
  const context = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8')).context;
  const app = new App({ context, outdir: path.join(tmp, 'cdk.out') });
  const stack = new M2mStack(app, 'TestStack', { lambdaDir: tmp, uiDir: path.join(REPO_ROOT, 'ui') });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('functions', () => {
  test('exactly six Rust functions, arm64 on provided.al2023, 128 MB, 10 s, traced, JSON logs', () => {
    const ids = functionIds();
    assert.deepEqual(Object.keys(ids).sort(), FUNCTION_NAMES);
    for (const [name, id] of Object.entries(ids)) {
      const p = resources[id].Properties;
      assert.equal(p.Runtime, 'provided.al2023', `${name} runtime`);
      assert.deepEqual(p.Architectures, ['arm64'], `${name} architecture`);
      assert.equal(p.Handler, 'bootstrap', `${name} handler`);
      assert.equal(p.MemorySize, 128, `${name} memory`);
      assert.equal(p.Timeout, 10, `${name} timeout`);
      assert.deepEqual(p.TracingConfig, { Mode: 'Active' }, `${name} X-Ray tracing`);
      assert.equal(p.LoggingConfig.LogFormat, 'JSON', `${name} log format`);
      assert.deepEqual(p.LoggingConfig.ApplicationLogLevel, { Ref: 'ApplicationLogLevel' }, `${name} log level`);
      assert.equal(p.LoggingConfig.SystemLogLevel, 'WARN', `${name} system log level`);
    }
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Runtime: 'provided.al2023', Architectures: ['arm64'], Handler: 'bootstrap' },
      6,
    );
    template.hasParameter('ApplicationLogLevel', { Default: 'INFO' });
  });

  test('each function logs to its own /aws/lambda/<function> log group with a retention', () => {
    for (const [name, id] of Object.entries(functionIds())) {
      const p = resources[id].Properties;
      const lg = resources[target(p.LoggingConfig?.LogGroup)!];
      assert.equal(lg?.Type, 'AWS::Logs::LogGroup', `${name} LoggingConfig.LogGroup`);
      assert.equal(lg.Properties.LogGroupName, `/aws/lambda/${p.FunctionName}`);
      assert.ok(lg.Properties.RetentionInDays, `${name} log retention`);
    }
  });

  test('secrets are never put in the environment; override is a parameter defaulting to false', () => {
    for (const [name, id] of Object.entries(functionIds())) {
      const env = resources[id].Properties.Environment?.Variables ?? {};
      for (const forbidden of ['DESCOPE_ACCESS_KEY', 'OIDC_CLIENT_SECRET', 'OIDC_CLIENT_ID']) {
        assert.ok(!(forbidden in env), `${name} must not set ${forbidden}`);
      }
    }
    const token = resources[functionIds().token].Properties.Environment.Variables;
    assert.deepEqual(token.ALLOW_CREDENTIAL_OVERRIDE, { Ref: 'AllowCredentialOverride' });
    template.hasParameter('AllowCredentialOverride', { Default: 'false', AllowedValues: ['true', 'false'] });
    template.hasParameter('DescopeAccessKey', { NoEcho: true });
  });

  test('verifiers get the verification variables; the authorizer its grants; whoami nothing', () => {
    const ids = functionIds();
    const env = (name: string) => resources[ids[name]].Properties.Environment?.Variables ?? {};
    for (const name of ['token', 'protected', 'user', 'admin', 'authorizer']) {
      assert.deepEqual(env(name).JWKS_MAX_STALE_SECONDS, { Ref: 'JwksMaxStaleSeconds' }, name);
      assert.deepEqual(env(name).METRICS_NAMESPACE, { Ref: 'MetricsNamespace' }, name);
      assert.deepEqual(env(name).DESCOPE_PROJECT_ID, { Ref: 'ProjectId' }, name);
    }
    assert.deepEqual(env('token').ALLOWED_PROJECT_IDS, { Ref: 'AllowedProjectIds' });
    assert.deepEqual(env('authorizer').AUTHORIZER_GRANTS, { Ref: 'AuthorizerGrants' });
    assert.equal(env('authorizer').AUTHORIZER_RESPONSE, 'simple');
    assert.ok(!('CORS_ALLOWED_ORIGINS' in env('authorizer')), 'the authorizer answers no browser');
    assert.deepEqual(env('whoami'), {}, 'whoami has no verification code and no settings');
    template.hasParameter('AuthorizerGrants', { Default: '{}' });
    template.hasParameter('JwksMaxStaleSeconds', { Default: 86400 });
    template.hasParameter('MetricsNamespace', { Default: 'M2MAuth' });
    template.hasParameter('AllowedProjectIds', { Default: '' });
  });
});

describe('HTTP API', () => {
  test('POST routes with their preflights, the IAM token route and the authorized whoami route', () => {
    const expected: Record<string, [string, string]> = {
      'POST /m2m/token': ['token', 'NONE'],
      'OPTIONS /m2m/token': ['token', 'NONE'],
      'POST /m2m/token/iam': ['token', 'AWS_IAM'],
      'POST /api/protected': ['protected', 'NONE'],
      'OPTIONS /api/protected': ['protected', 'NONE'],
      'POST /api/user': ['user', 'NONE'],
      'OPTIONS /api/user': ['user', 'NONE'],
      'POST /api/admin': ['admin', 'NONE'],
      'OPTIONS /api/admin': ['admin', 'NONE'],
      'GET /api/whoami': ['whoami', 'CUSTOM'],
    };
    const ids = functionIds();
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    assert.deepEqual(routes.map((r) => r.Properties.RouteKey).sort(), Object.keys(expected).sort());
    for (const route of routes) {
      const key: string = route.Properties.RouteKey;
      const parts = route.Properties.Target['Fn::Join'][1];
      const integration = resources[target(parts[1])!];
      assert.equal(integration.Type, 'AWS::ApiGatewayV2::Integration');
      assert.equal(integration.Properties.PayloadFormatVersion, '2.0');
      assert.equal(target(integration.Properties.IntegrationUri), ids[expected[key][0]], `${key} target`);
      assert.equal(route.Properties.AuthorizationType ?? 'NONE', expected[key][1], `${key} authorization`);
    }
    // No API Gateway CORS: the functions answer preflights from their own allow list.
    const api = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Api')!;
    assert.equal(api.Properties.CorsConfiguration, undefined);
  });

  test('the Lambda authorizer: REQUEST, 2.0, simple, cached per token AND route, TTL <= 300 s', () => {
    const ids = functionIds();
    const authorizers = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Authorizer');
    assert.equal(authorizers.length, 1);
    const [authId, a] = authorizers[0];
    assert.equal(a.Properties.AuthorizerType, 'REQUEST');
    assert.equal(a.Properties.AuthorizerPayloadFormatVersion, '2.0');
    assert.equal(a.Properties.EnableSimpleResponses, true);
    assert.deepEqual(a.Properties.IdentitySource, ['$request.header.Authorization', '$context.routeKey', '$context.httpMethod', '$context.path']);
    assert.deepEqual(a.Properties.AuthorizerResultTtlInSeconds, { Ref: 'AuthorizerCacheSeconds' });
    template.hasParameter('AuthorizerCacheSeconds', { Default: 300, MaxValue: 300, MinValue: 0 });
    assert.ok(JSON.stringify(a.Properties.AuthorizerUri).includes(`"${ids.authorizer}"`), 'invokes the authorizer');
    const whoami = Object.values(resources).find(
      (r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.RouteKey === 'GET /api/whoami',
    )!;
    assert.equal(target(whoami.Properties.AuthorizerId), authId);
    // API Gateway may invoke it for this API's authorizers only.
    const perms = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(ids.authorizer),
    );
    assert.equal(perms.length, 1);
    assert.equal(perms[0].Properties.Principal, 'apigateway.amazonaws.com');
    assert.equal(perms[0].Properties.Action, 'lambda:InvokeFunction');
    const arn = perms[0].Properties.SourceArn['Fn::Join'][1];
    assert.equal(arn[arn.length - 1], '/authorizers/*');
    assert.ok(JSON.stringify(arn).includes('"Ref":"HttpApi'), 'scoped to this API');
  });

  test('default stage: protected-route throttling, stricter token routes, JSON access logs with retention', () => {
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    const s = stage.Properties;
    assert.equal(s.StageName, '$default');
    assert.deepEqual(s.DefaultRouteSettings.ThrottlingRateLimit, { Ref: 'ThrottlingRateLimit' });
    assert.deepEqual(s.DefaultRouteSettings.ThrottlingBurstLimit, { Ref: 'ThrottlingBurstLimit' });
    for (const key of ['POST /m2m/token', 'POST /m2m/token/iam']) {
      assert.deepEqual(s.RouteSettings[key], {
        ThrottlingRateLimit: { Ref: 'TokenThrottlingRateLimit' },
        ThrottlingBurstLimit: { Ref: 'TokenThrottlingBurstLimit' },
      });
    }
    const params = template.toJSON().Parameters;
    assert.ok(params.TokenThrottlingRateLimit.Default < params.ThrottlingRateLimit.Default, 'token rate stricter');
    assert.ok(params.TokenThrottlingBurstLimit.Default < params.ThrottlingBurstLimit.Default, 'token burst stricter');
    // The routes its settings name exist before the stage is updated.
    for (const dep of stage.DependsOn ?? []) assert.equal(resources[dep].Type, 'AWS::ApiGatewayV2::Route');
    assert.equal((stage.DependsOn ?? []).length, 2);
    const format = JSON.parse(s.AccessLogSettings.Format);
    assert.equal(format.requestId, '$context.requestId');
    const lg = resources[target(s.AccessLogSettings.DestinationArn)!];
    assert.equal(lg.Type, 'AWS::Logs::LogGroup');
    assert.ok(lg.Properties.RetentionInDays);
  });
});

describe('IAM', () => {
  test('each function has its own role with no managed policies and no wildcard actions', () => {
    const roles = new Set<string>();
    for (const [name, id] of Object.entries(functionIds())) {
      const roleId = target(resources[id].Properties.Role)!;
      assert.equal(resources[roleId].Type, 'AWS::IAM::Role', `${name} role`);
      assert.ok(!roles.has(roleId), `${name} shares a role`);
      roles.add(roleId);
      assert.equal(resources[roleId].Properties.ManagedPolicyArns, undefined, `${name} managed policies`);
      const xray = new Set<string>();
      for (const s of statementsOfRole(roleId)) {
        for (const a of actions(s)) assert.ok(!a.includes('*'), `${name} wildcard action ${a}`);
        if (s.Resource === '*') {
          // X-Ray's write actions take no resource-level permission: the only statement allowed on "*".
          assert.deepEqual(actions(s).sort(), XRAY_ACTIONS, `${name} statement on every resource`);
          actions(s).forEach((a) => xray.add(a));
        }
      }
      assert.deepEqual([...xray].sort(), XRAY_ACTIONS, `${name} may write X-Ray traces`);
    }
  });

  test('only the token role may read a secret, and only the one secret', () => {
    const ids = functionIds();
    const tokenRole = target(resources[ids.token].Properties.Role)!;
    const secretStatements: { role: string; s: Statement }[] = [];
    for (const [roleId, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::IAM::Role') continue;
      for (const s of statementsOfRole(roleId)) {
        if (actions(s).some((a) => a.toLowerCase().startsWith('secretsmanager:'))) {
          secretStatements.push({ role: roleId, s });
        }
      }
    }
    assert.equal(secretStatements.length, 1, 'exactly one statement mentions Secrets Manager');
    const { role, s } = secretStatements[0];
    assert.equal(role, tokenRole);
    assert.deepEqual(actions(s), ['secretsmanager:GetSecretValue']);
    assert.deepEqual(s.Resource, {
      'Fn::If': ['CreateSecret', { Ref: 'DescopeSecret' }, { Ref: 'ExistingSecretArn' }],
    });
    assert.equal(resources.DescopeSecret.Type, 'AWS::SecretsManager::Secret');
    // The token function is pointed at that same secret.
    assert.deepEqual(resources[ids.token].Properties.Environment.Variables.DESCOPE_SECRET_ID, s.Resource);
  });

  test("the secret is created in the provider's shape: clientId/clientSecret for oidc, projectId/accessKey else", () => {
    const [cond, oidc, descope] = resources.DescopeSecret.Properties.SecretString['Fn::If'];
    assert.equal(cond, 'IsOidc');
    assert.deepEqual(template.toJSON().Conditions.IsOidc, { 'Fn::Equals': [{ Ref: 'AuthProvider' }, 'oidc'] });
    assert.deepEqual(Object.keys(JSON.parse(oidc)).sort(), ['clientId', 'clientSecret']);
    const [, withKey, placeholder] = descope['Fn::If'];
    for (const v of [withKey, placeholder]) {
      assert.deepEqual(Object.keys(JSON.parse(v['Fn::Sub'])).sort(), ['accessKey', 'projectId']);
    }
  });
});

describe('page bucket and CloudFront', () => {
  test('the bucket is private, encrypted, owner-enforced and TLS-only', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({})] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('only CloudFront (origin access control, this distribution) may read the bucket', () => {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
    const policy = Object.values(resources).find((r) => r.Type === 'AWS::S3::BucketPolicy')!;
    const allows = policy.Properties.PolicyDocument.Statement.filter((s: Statement) => s.Effect === 'Allow');
    assert.ok(allows.length >= 1);
    for (const s of allows) {
      assert.deepEqual(s.Principal, { Service: 'cloudfront.amazonaws.com' });
      assert.ok(s.Condition?.StringEquals?.['AWS:SourceArn'], 'scoped to the distribution');
    }
    const dist = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!;
    const s3Origins = dist.Properties.DistributionConfig.Origins.filter((o: any) => o.S3OriginConfig);
    assert.equal(s3Origins.length, 1);
    assert.equal(resources[target(s3Origins[0].OriginAccessControlId)!].Type, 'AWS::CloudFront::OriginAccessControl');
  });

  test('/api/* and /m2m/* go to the API (its custom domain when set) uncached, with only the headers used', () => {
    const dist = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!;
    const config = dist.Properties.DistributionConfig;
    const apiId = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api')![0];
    const behaviors: any[] = config.CacheBehaviors;
    assert.deepEqual(behaviors.map((b) => b.PathPattern).sort(), ['/api/*', '/m2m/*']);
    for (const b of behaviors) {
      const origin = config.Origins.find((o: any) => o.Id === b.TargetOriginId);
      const [cond, custom, executeApi] = origin.DomainName['Fn::If'];
      assert.equal(cond, 'HasApiDomain');
      assert.deepEqual(custom, { Ref: 'ApiDomainName' });
      assert.ok(JSON.stringify(executeApi).includes(`{"Ref":"${apiId}"}`), `${b.PathPattern} -> HTTP API`);
      assert.equal(origin.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
      // Authorization only through the cache policy's key (an origin request policy may not name it).
      const cache = resources[target(b.CachePolicyId)!].Properties.CachePolicyConfig;
      assert.deepEqual([cache.MinTTL, cache.DefaultTTL, cache.MaxTTL], [0, 0, 1]);
      assert.deepEqual(cache.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig, {
        HeaderBehavior: 'whitelist',
        Headers: ['Authorization'],
      });
      const orp = resources[target(b.OriginRequestPolicyId)!].Properties.OriginRequestPolicyConfig;
      assert.deepEqual(orp.HeadersConfig.Headers.sort(), [
        'access-control-request-headers',
        'access-control-request-method',
        'content-type',
        'origin',
      ]);
      assert.equal(orp.CookiesConfig.CookieBehavior, 'none');
      assert.equal(orp.QueryStringsConfig.QueryStringBehavior, 'none');
      assert.ok(b.AllowedMethods.includes('POST') && b.AllowedMethods.includes('OPTIONS'), `${b.PathPattern} methods`);
      assert.notEqual(b.ViewerProtocolPolicy, 'allow-all');
    }
    assert.equal(config.DefaultRootObject, 'index.html');
  });

  test('execute-api is disabled exactly when the optional API custom domain exists', () => {
    const api = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Api')!;
    assert.deepEqual(api.Properties.DisableExecuteApiEndpoint, { 'Fn::If': ['HasApiDomain', true, false] });
    const domain = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::DomainName')!;
    const mapping = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::ApiMapping')!;
    assert.equal(domain.Condition, 'HasApiDomain');
    assert.equal(mapping.Condition, 'HasApiDomain');
    assert.deepEqual(domain.Properties.DomainNameConfigurations[0].CertificateArn, { Ref: 'ApiCertificateArn' });
    assert.equal(resources[target(mapping.Properties.Stage)!].Type, 'AWS::ApiGatewayV2::Stage');
    assert.ok(template.toJSON().Rules.ApiDomainNeedsCertificate, 'a domain without a certificate is refused');
  });

  test("security headers: the CSP of infra/content-security-policy.txt (connect-src + the page's API origin)", () => {
    assert.ok(CONTENT_SECURITY_POLICY_TEMPLATE.includes("connect-src 'self'${ApiOrigin};"));
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: {
          ContentSecurityPolicy: {
            ContentSecurityPolicy: {
              'Fn::Sub': [
                fs.readFileSync(path.join(INFRA_DIR, 'content-security-policy.txt'), 'utf8').trim(),
                {
                  ApiOrigin: {
                    'Fn::If': [
                      'HasPageApiBaseUrl',
                      {
                        'Fn::Join': [
                          '',
                          [' https://', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'PageApiBaseUrl' }] }] }],
                        ],
                      },
                      '',
                    ],
                  },
                },
              ],
            },
            Override: true,
          },
          ContentTypeOptions: { Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
          StrictTransportSecurity: Match.objectLike({ Override: true }),
        },
      },
    });
    const dist = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!;
    const config = dist.Properties.DistributionConfig;
    for (const b of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) {
      assert.ok(b.ResponseHeadersPolicyId, `${b.PathPattern ?? 'default'} has the headers policy`);
    }
  });

  test('the page is deployed with a generated config.json (the ProjectId and PageApiBaseUrl parameters)', () => {
    const deployments = Object.values(resources).filter((r) => r.Type === 'Custom::CDKBucketDeployment');
    assert.equal(deployments.length, 1);
    const p = deployments[0].Properties;
    assert.equal(p.SourceObjectKeys.length, 2, 'ui/ and config.json');
    assert.ok(p.DistributionPaths.includes('/*'), 'invalidates CloudFront');
    const markers = JSON.stringify(p.SourceMarkers);
    assert.ok(markers.includes('{"Ref":"ProjectId"}'), 'config.json carries the ProjectId parameter');
    assert.ok(markers.includes('{"Ref":"PageApiBaseUrl"}'), 'config.json carries the PageApiBaseUrl parameter');
  });

  test('outputs: site URL, API URL, IAM token URL, bucket name, secret ARN, dashboard', () => {
    for (const name of ['SiteUrl', 'ApiUrl', 'TokenIamUrl', 'BucketName', 'SecretArn', 'DistributionId', 'DashboardName']) {
      template.hasOutput(name, {});
    }
    template.hasOutput('ApiDomainTarget', { Condition: 'HasApiDomain' });
  });
});

describe('alarms and dashboard', () => {
  const alarms = (): Record<string, any> =>
    Object.fromEntries(
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
        .map((r) => [r.Properties.AlarmName['Fn::Join'][1][1].replace(/^-/, ''), r.Properties]),
    );
  const dims = (p: any) => Object.fromEntries((p.Dimensions ?? []).map((d: any) => [d.Name, d.Value]));

  test('every function: Errors and Throttles alarms; every alarm notifies the optional topic', () => {
    const ids = functionIds();
    const all = alarms();
    for (const name of FUNCTION_NAMES) {
      for (const metric of ['Errors', 'Throttles']) {
        const p = all[`${name}-${metric.toLowerCase()}`];
        assert.ok(p, `${name}-${metric.toLowerCase()}`);
        assert.equal(p.Namespace, 'AWS/Lambda');
        assert.equal(p.MetricName, metric);
        assert.deepEqual(dims(p), { FunctionName: { Ref: ids[name] } });
      }
    }
    for (const [name, p] of Object.entries(all)) {
      assert.deepEqual(p.AlarmActions, ALARM_ACTIONS, `${name} AlarmActions`);
      assert.deepEqual(p.OKActions, ALARM_ACTIONS, `${name} OKActions`);
    }
    assert.deepEqual(template.toJSON().Conditions.HasAlarmTopic, {
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }],
    });
    assert.equal(Object.keys(all).length, 25);
  });

  test('EMF alarms: JWKS fetch failures, keys unavailable, p99 latency of the protected functions', () => {
    const ids = functionIds();
    const all = alarms();
    for (const name of ['token', 'protected', 'user', 'admin', 'authorizer']) {
      const p = all[`${name}-jwks-fetch-failures`];
      assert.deepEqual([p.Namespace, p.MetricName], [{ Ref: 'MetricsNamespace' }, 'JwksFetchFailures']);
      assert.deepEqual(dims(p), { Function: { Ref: ids[name] } });
    }
    for (const name of ['protected', 'user', 'admin', 'authorizer']) {
      const p = all[`${name}-keys-unavailable`];
      assert.deepEqual([p.Namespace, p.MetricName], [{ Ref: 'MetricsNamespace' }, 'Requests']);
      assert.deepEqual(dims(p), { Function: { Ref: ids[name] }, Outcome: 'keys_unavailable' });
    }
    for (const name of ['protected', 'user', 'admin']) {
      const p = all[`${name}-latency-p99`];
      assert.deepEqual([p.MetricName, p.ExtendedStatistic], ['Latency', 'p99']);
      assert.deepEqual(dims(p), { Function: { Ref: ids[name] } });
    }
  });

  test('API 5xx rate alarm: 5xx / Count of this API', () => {
    const p = alarms()['api-5xx-rate'];
    const apiId = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api')![0];
    const stats = p.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
    for (const metricName of ['5xx', 'Count']) {
      assert.deepEqual(stats.find((m: any) => m.MetricName === metricName), {
        Namespace: 'AWS/ApiGateway',
        MetricName: metricName,
        Dimensions: [{ Name: 'ApiId', Value: { Ref: apiId } }],
      });
    }
    assert.ok(p.Metrics.some((m: any) => m.ReturnData && m.Expression.includes('errors / requests')));
  });

  test('the dashboard body is infra/dashboard.json with the API and every function', () => {
    const boards = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    assert.equal(boards.length, 1);
    const [body, vars] = boards[0].Properties.DashboardBody['Fn::Sub'];
    assert.deepEqual(JSON.parse(body), JSON.parse(fs.readFileSync(path.join(INFRA_DIR, 'dashboard.json'), 'utf8')));
    const ids = functionIds();
    for (const name of FUNCTION_NAMES) {
      assert.deepEqual(vars[`${name.charAt(0).toUpperCase()}${name.slice(1)}FunctionName`], { Ref: ids[name] });
    }
    for (const metric of ['Requests', 'Latency', 'JwksFetches', 'JwksFetchFailures', 'SecretReadFailures', '5xx']) {
      assert.ok(body.includes(`"${metric}"`) || body.includes(`\\"${metric}\\"`), `dashboard shows ${metric}`);
    }
  });
});
