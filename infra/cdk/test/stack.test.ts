// Assertion tests for the CDK stack (node --test build/test/). No AWS account, no Docker, no Rust build:
// the function code is a dummy zip per function in a temporary folder.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CONTENT_SECURITY_POLICY, FUNCTIONS, M2mStack } from '../lib/m2m-stack';

const CDK_DIR = path.resolve(__dirname, '..', '..');
const REPO_ROOT = path.resolve(CDK_DIR, '..', '..');
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
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
  test('exactly four Rust functions, arm64 on provided.al2023, 128 MB, 10 s', () => {
    const ids = functionIds();
    assert.deepEqual(Object.keys(ids).sort(), ['admin', 'protected', 'token', 'user']);
    for (const [name, id] of Object.entries(ids)) {
      const p = resources[id].Properties;
      assert.equal(p.Runtime, 'provided.al2023', `${name} runtime`);
      assert.deepEqual(p.Architectures, ['arm64'], `${name} architecture`);
      assert.equal(p.Handler, 'bootstrap', `${name} handler`);
      assert.equal(p.MemorySize, 128, `${name} memory`);
      assert.equal(p.Timeout, 10, `${name} timeout`);
    }
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Runtime: 'provided.al2023', Architectures: ['arm64'], Handler: 'bootstrap' },
      4,
    );
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
      const env = resources[id].Properties.Environment.Variables;
      for (const forbidden of ['DESCOPE_ACCESS_KEY', 'OIDC_CLIENT_SECRET', 'OIDC_CLIENT_ID']) {
        assert.ok(!(forbidden in env), `${name} must not set ${forbidden}`);
      }
    }
    const token = resources[functionIds().token].Properties.Environment.Variables;
    assert.deepEqual(token.ALLOW_CREDENTIAL_OVERRIDE, { Ref: 'AllowCredentialOverride' });
    template.hasParameter('AllowCredentialOverride', { Default: 'false', AllowedValues: ['true', 'false'] });
    template.hasParameter('DescopeAccessKey', { NoEcho: true });
  });
});

describe('HTTP API', () => {
  test('four POST routes, each to its own function', () => {
    const expected: Record<string, string> = {
      'POST /m2m/token': 'token',
      'POST /api/protected': 'protected',
      'POST /api/user': 'user',
      'POST /api/admin': 'admin',
    };
    const ids = functionIds();
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    assert.equal(routes.length, 4);
    for (const route of routes) {
      const key: string = route.Properties.RouteKey;
      assert.ok(key in expected, `unexpected route ${key}`);
      const parts = route.Properties.Target['Fn::Join'][1];
      const integration = resources[target(parts[1])!];
      assert.equal(integration.Type, 'AWS::ApiGatewayV2::Integration');
      assert.equal(integration.Properties.PayloadFormatVersion, '2.0');
      assert.equal(target(integration.Properties.IntegrationUri), ids[expected[key]], `${key} target`);
    }
  });

  test('default stage has throttling and JSON access logs to a log group with retention', () => {
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    const s = stage.Properties;
    assert.equal(s.StageName, '$default');
    assert.ok(s.DefaultRouteSettings.ThrottlingRateLimit);
    assert.ok(s.DefaultRouteSettings.ThrottlingBurstLimit);
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
      for (const s of statementsOfRole(roleId)) {
        for (const a of actions(s)) assert.ok(!a.includes('*'), `${name} wildcard action ${a}`);
        assert.notEqual(s.Resource, '*', `${name} statement on every resource`);
      }
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

  test('/api/* and /m2m/* go to the HTTP API uncached with all viewer headers but Host, POST allowed', () => {
    const dist = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!;
    const config = dist.Properties.DistributionConfig;
    const apiId = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api')![0];
    const behaviors: any[] = config.CacheBehaviors;
    assert.deepEqual(behaviors.map((b) => b.PathPattern).sort(), ['/api/*', '/m2m/*']);
    for (const b of behaviors) {
      const origin = config.Origins.find((o: any) => o.Id === b.TargetOriginId);
      assert.ok(JSON.stringify(origin.DomainName).includes(`{"Ref":"${apiId}"}`), `${b.PathPattern} -> HTTP API`);
      assert.equal(origin.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
      assert.equal(b.CachePolicyId, CACHING_DISABLED);
      assert.equal(b.OriginRequestPolicyId, ALL_VIEWER_EXCEPT_HOST_HEADER);
      assert.ok(b.AllowedMethods.includes('POST'), `${b.PathPattern} allows POST`);
      assert.notEqual(b.ViewerProtocolPolicy, 'allow-all');
    }
    assert.equal(config.DefaultRootObject, 'index.html');
  });

  test('security headers: the CSP, nosniff, no-referrer, HSTS on every behaviour', () => {
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: {
          ContentSecurityPolicy: { ContentSecurityPolicy: CONTENT_SECURITY_POLICY, Override: true },
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

  test('the page is deployed with a generated config.json (same origin, the project parameter)', () => {
    const deployments = Object.values(resources).filter((r) => r.Type === 'Custom::CDKBucketDeployment');
    assert.equal(deployments.length, 1);
    const p = deployments[0].Properties;
    assert.equal(p.SourceObjectKeys.length, 2, 'ui/ and config.json');
    assert.ok(p.DistributionPaths.includes('/*'), 'invalidates CloudFront');
    const markers = JSON.stringify(p.SourceMarkers);
    assert.ok(markers.includes('{"Ref":"ProjectId"}'), 'config.json carries the ProjectId parameter');
  });

  test('outputs: site URL, API URL, bucket name, secret ARN', () => {
    for (const name of ['SiteUrl', 'ApiUrl', 'BucketName', 'SecretArn', 'DistributionId']) {
      template.hasOutput(name, {});
    }
  });
});
