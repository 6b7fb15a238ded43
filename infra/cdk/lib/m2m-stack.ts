// The Descope M2M stack: the same resources as infra/template.yaml (SAM), written with aws-cdk-lib v2.
//
// The Rust functions are NOT compiled here: each function's code is the zip that
// `infra/build-release.sh arm64` (cargo lambda build --release --arm64 --output-format zip) leaves in
// target/lambda-arm64/<name>/bootstrap.zip. See infra/README.md ("Why Code.fromAsset on prebuilt zips").
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnRule,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { FUNCTIONS, RouteSpec, TOKEN_ROUTE_KEYS, idOf } from './functions';
import { FACTS, Refs, environmentOf, subOf, templateOf } from './facts';
import { addAlarms, addDashboard } from './observability';
import { defineParameters } from './parameters';

export { FUNCTIONS } from './functions';

/**
 * The CloudFront Content-Security-Policy as a Fn::Sub template; `${ApiOrigin}` is " <origin of PageApiBaseUrl>"
 * or "". Its one source is the file infra/stack.json names (infra/content-security-policy.txt).
 */
export const CONTENT_SECURITY_POLICY_TEMPLATE = templateOf('contentSecurityPolicy');

export interface M2mStackProps extends StackProps {
  /** Folder with <name>/bootstrap.zip for every function (cargo lambda build --output-format zip --lambda-dir). */
  readonly lambdaDir: string;
  /** The static page (ui/). Its config.json is replaced by one generated for this deployment. */
  readonly uiDir: string;
}

export class M2mStack extends Stack {
  constructor(scope: Construct, id: string, props: M2mStackProps) {
    super(scope, id, props);
    const params = defineParameters(this);
    const param = (name: string) => {
      if (!params[name]) throw new Error(`no parameter ${name} in infra/stack.json`);
      return params[name];
    };
    const str = (name: string) => param(name).valueAsString;
    const num = (name: string) => param(name).valueAsNumber;
    if (FUNCTIONS.map((f) => f.name).join() !== Object.keys(FACTS.functions).join()) {
      throw new Error('lib/functions.ts and infra/stack.json do not list the same functions in the same order');
    }
    // What the facts of infra/stack.json may Ref: the parameters, and below the resources they name.
    const refs: Refs = Object.fromEntries(Object.keys(params).map((name) => [name, str(name)]));

    // ------------------------------------------------------------------ conditions and rules (as in SAM)
    const condition = (name: string, expression: any) => new CfnCondition(this, name, { expression });
    const createSecret = condition('CreateSecret', Fn.conditionEquals(str('ExistingSecretArn'), ''));
    const hasAccessKey = condition('HasAccessKey', Fn.conditionNot(Fn.conditionEquals(str('DescopeAccessKey'), '')));
    const isOidc = condition('IsOidc', Fn.conditionEquals(str('AuthProvider'), 'oidc'));
    const hasApiDomain = condition('HasApiDomain', Fn.conditionNot(Fn.conditionEquals(str('ApiDomainName'), '')));
    // HasPageApiBaseUrl and (in observability.ts) HasAlarmTopic are named by infra/stack.json's CSP and alarms.
    condition('HasPageApiBaseUrl', Fn.conditionNot(Fn.conditionEquals(str('PageApiBaseUrl'), '')));
    const ifCondition = (c: CfnCondition, yes: any, no: any) => Fn.conditionIf(c.logicalId, yes, no);

    new CfnRule(this, 'ApiDomainNeedsCertificate', {
      ruleCondition: Fn.conditionNot(Fn.conditionEquals(str('ApiDomainName'), '')),
      assertions: [
        {
          assert: Fn.conditionNot(Fn.conditionEquals(str('ApiCertificateArn'), '')),
          assertDescription: 'ApiDomainName needs ApiCertificateArn (an ACM certificate for it in this region)',
        },
      ],
    });
    new CfnRule(this, 'AccessKeyOnlyForDescope', {
      ruleCondition: Fn.conditionEquals(str('AuthProvider'), 'oidc'),
      assertions: [
        {
          assert: Fn.conditionEquals(str('DescopeAccessKey'), ''),
          assertDescription:
            'DescopeAccessKey is for AuthProvider=descope; with oidc put {"clientId","clientSecret"} into the ' +
            'secret with put-secret-value (or pass ExistingSecretArn)',
        },
      ],
    });

    // ------------------------------------------------------------------ the secret (read by the token function only)
    // Its shape follows AuthProvider: projectId/accessKey for descope, clientId/clientSecret for oidc.
    const secret = new secretsmanager.CfnSecret(this, 'DescopeSecret', {
      description: Token.asString(
        ifCondition(
          isOidc,
          Fn.sub('M2M default OAuth client credentials for ${AWS::StackName}: {"clientId": "...", "clientSecret": "..."}'),
          Fn.sub('Descope M2M default credentials for ${AWS::StackName}: {"projectId": "...", "accessKey": "..."}'),
        ),
      ),
      secretString: Token.asString(
        ifCondition(
          isOidc,
          '{"clientId":"","clientSecret":""}',
          ifCondition(
            hasAccessKey,
            Fn.sub('{"projectId":"${ProjectId}","accessKey":"${DescopeAccessKey}"}'),
            Fn.sub('{"projectId":"${ProjectId}","accessKey":""}'),
          ),
        ),
      ),
    });
    secret.cfnOptions.condition = createSecret;
    secret.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const secretArn = Token.asString(ifCondition(createSecret, secret.ref, str('ExistingSecretArn')));

    refs.DescopeSecret = secret.ref;

    // ------------------------------------------------------------------ HTTP API
    const api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Descope M2M routes (the page reaches them through CloudFront; IAM callers call the API directly)',
      // No corsPreflight: API Gateway would answer preflights itself, without the functions' allow list.
    });
    // Only reachable through the custom domain when there is one (CloudFront then uses it as its origin).
    (api.node.defaultChild as apigwv2.CfnApi).disableExecuteApiEndpoint = ifCondition(hasApiDomain, true, false);
    const accessLogs = new logs.CfnLogGroup(this, 'HttpApiAccessLogGroup', {
      logGroupName: `/aws/vendedlogs/apigateway/${this.stackName}-http-api`,
      retentionInDays: num('LogRetentionDays'),
    });
    accessLogs.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const stage = api.defaultStage!.node.defaultChild as apigwv2.CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: num('ThrottlingRateLimit'),
      throttlingBurstLimit: num('ThrottlingBurstLimit'),
      detailedMetricsEnabled: false,
    };
    // The token routes are stricter: each call costs a provider exchange (and the IAM route the stack's key).
    // RouteSettings is plain JSON to CDK (written as given): PascalCase, as CloudFormation documents it and SAM
    // writes it.
    stage.routeSettings = Object.fromEntries(
      TOKEN_ROUTE_KEYS.map((key) => [
        key,
        {
          ThrottlingRateLimit: num('TokenThrottlingRateLimit'),
          ThrottlingBurstLimit: num('TokenThrottlingBurstLimit'),
        },
      ]),
    );
    stage.accessLogSettings = {
      destinationArn: accessLogs.attrArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        requestTime: '$context.requestTime',
        httpMethod: '$context.httpMethod',
        path: '$context.path',
        routeKey: '$context.routeKey',
        status: '$context.status',
        protocol: '$context.protocol',
        responseLength: '$context.responseLength',
        integrationLatency: '$context.integrationLatency',
        integrationStatus: '$context.integrationStatus',
        integrationError: '$context.integrationErrorMessage',
        authorizerError: '$context.authorizer.error',
        userAgent: '$context.identity.userAgent',
      }),
    };

    // ------------------------------------------------------------------ functions, each with its own role and logs
    const functions: Record<string, lambda.Function> = {};
    for (const spec of FUNCTIONS) {
      const zip = path.join(props.lambdaDir, spec.name, 'bootstrap.zip');
      if (!fs.existsSync(zip)) {
        throw new Error(
          `${zip} is missing: run \`infra/build-release.sh arm64\` first (or pass -c lambdaDir=<dir with ` +
            `<function>/bootstrap.zip>)`,
        );
      }
      const fid = idOf(spec.name);
      const functionName = `${this.stackName}-${spec.name}`;
      const logGroup = new logs.LogGroup(this, `${fid}LogGroup`, {
        logGroupName: `/aws/lambda/${functionName}`,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // The retention is a deploy-time parameter, which the L2 `retention` enum cannot hold.
      (logGroup.node.defaultChild as logs.CfnLogGroup).retentionInDays = num('LogRetentionDays');

      // Its own role: write to its own log group and X-Ray (tracing: ACTIVE adds xray:PutTraceSegments and
      // xray:PutTelemetryRecords, which take no resource but "*"); the token function also reads the one secret.
      const role = new iam.Role(this, `${fid}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description:
          spec.name === 'token'
            ? 'token function - its own log group, X-Ray traces and GetSecretValue on the one Descope secret'
            : `${spec.name} function - its own log group and X-Ray traces only`,
      });
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      if (spec.name === 'token') {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }),
        );
      }

      const environment = environmentOf(spec.name, refs);
      functions[spec.name] = new lambda.Function(this, `${fid}Function`, {
        functionName,
        description: FACTS.functions[spec.name].description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(zip),
        memorySize: 128,
        timeout: Duration.seconds(10),
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        loggingFormat: lambda.LoggingFormat.JSON,
        // Lambda passes it to the function as AWS_LAMBDA_LOG_LEVEL.
        applicationLogLevelV2: str('ApplicationLogLevel') as lambda.ApplicationLogLevel,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        environment: Object.keys(environment).length ? environment : undefined,
      });
      refs[`${fid}Function`] = functions[spec.name].functionName;
    }

    // ------------------------------------------------------------------ the Lambda authorizer (REQUEST, 2.0, simple)
    const authorizerFn = functions.authorizer;
    const authorizer = new apigwv2.CfnAuthorizer(this, 'M2MAuthorizer', {
      apiId: api.apiId,
      name: 'M2MAuthorizer',
      authorizerType: 'REQUEST',
      authorizerUri: `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}:lambda:path/2015-03-31/functions/${authorizerFn.functionArn}/invocations`,
      authorizerPayloadFormatVersion: '2.0',
      enableSimpleResponses: true,
      // The decision depends on the route (AUTHORIZER_GRANTS), so the route is part of the cache key: a cached
      // allow for one route never opens another. A cached decision can outlive the token by up to
      // AuthorizerCacheSeconds (at most 300).
      identitySource: ['$request.header.Authorization', '$context.routeKey', '$context.httpMethod', '$context.path'],
      authorizerResultTtlInSeconds: num('AuthorizerCacheSeconds'),
    });
    // API Gateway may invoke the authorizer for this API's authorizers only.
    new lambda.CfnPermission(this, 'AuthorizerInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: authorizerFn.functionArn,
      principal: 'apigateway.amazonaws.com',
      sourceArn: `arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${api.apiId}/authorizers/*`,
    });
    const routeAuthorizer = (route: RouteSpec): apigwv2.IHttpRouteAuthorizer | undefined => {
      if (route.auth === 'iam') return new HttpIamAuthorizer();
      if (route.auth === 'authorizer') {
        return { bind: () => ({ authorizationType: 'CUSTOM', authorizerId: authorizer.ref }) };
      }
      return undefined;
    };

    // ------------------------------------------------------------------ routes
    for (const spec of FUNCTIONS) {
      if (!spec.routes.length) continue;
      const integration = new HttpLambdaIntegration(`${idOf(spec.name)}Integration`, functions[spec.name], {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      });
      for (const route of spec.routes) {
        const [created] = api.addRoutes({
          path: route.path,
          methods: [route.method as apigwv2.HttpMethod],
          integration,
          authorizer: routeAuthorizer(route),
        });
        // A stage's route settings name routes that must exist first.
        if ((TOKEN_ROUTE_KEYS as readonly string[]).includes(`${route.method} ${route.path}`)) {
          stage.addResourceDependency(created.node.defaultChild as apigwv2.CfnRoute, "the stage's route settings name it");
        }
      }
    }

    // ------------------------------------------------------------------ optional custom domain of the API
    // CloudFront's origin cannot be a disabled execute-api endpoint, so the endpoint is disabled only when this
    // domain exists (infra/README.md, "Custom domain").
    const apiDomain = new apigwv2.CfnDomainName(this, 'ApiDomain', {
      domainName: str('ApiDomainName'),
      domainNameConfigurations: [
        { certificateArn: str('ApiCertificateArn'), endpointType: 'REGIONAL', securityPolicy: 'TLS_1_2' },
      ],
    });
    apiDomain.cfnOptions.condition = hasApiDomain;
    // cfn-lint checks the parameter's default (""), which never reaches this resource (see the SAM template).
    apiDomain.addMetadata('cfn-lint', { config: { ignore_checks: ['W1030'] } });
    const apiMapping = new apigwv2.CfnApiMapping(this, 'ApiDomainMapping', {
      apiId: api.apiId,
      domainName: apiDomain.ref,
      stage: stage.ref,
    });
    apiMapping.cfnOptions.condition = hasApiDomain;

    // ------------------------------------------------------------------ the page: private bucket behind CloudFront
    const bucket = new s3.Bucket(this, 'SiteBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      bucketKeyEnabled: true,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const securityHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeadersPolicy', {
      responseHeadersPolicyName: `${this.stackName}-security-headers`,
      comment: 'CSP, HSTS, nosniff, no referrer, no framing',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: Fn.sub(...subOf('contentSecurityPolicy', refs)),
          override: true,
        },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.seconds(63072000),
          includeSubdomains: true,
          override: true,
        },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      },
    });

    // The API behaviours forward what the functions read and nothing else. Authorization cannot be listed in an
    // origin request policy (CloudFront refuses it: a header that decides the answer must be in the cache key), so
    // it is in this cache policy's key; caching stays effectively off: default TTL 0 (an answer without
    // Cache-Control is never stored; the functions send no-store) and max TTL 1 s (a policy with every TTL at 0
    // cannot name headers). Requests with different tokens never share an entry.
    const apiCachePolicy = new cloudfront.CachePolicy(this, 'ApiCachePolicy', {
      cachePolicyName: `${this.stackName}-api-no-cache`,
      comment: 'Authorization in the key and forwarded; nothing cached (TTL 0, at most 1 s)',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(1),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Authorization'),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });
    const apiOriginRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ApiOriginRequestPolicy', {
      originRequestPolicyName: `${this.stackName}-api-headers`,
      comment: 'Only the headers the functions read (JSON body, CORS); Authorization comes from the cache policy',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(
        'content-type',
        'origin',
        'access-control-request-method',
        'access-control-request-headers',
      ),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.none(),
    });

    const executeApiDomain = `${api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: new origins.HttpOrigin(Token.asString(ifCondition(hasApiDomain, str('ApiDomainName'), executeApiDomain)), {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      }),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: apiCachePolicy,
      originRequestPolicy: apiOriginRequestPolicy,
      responseHeadersPolicy: securityHeaders,
    };
    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `${this.stackName} - Descope M2M page and API`,
      defaultRootObject: 'index.html',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: securityHeaders,
      },
      additionalBehaviors: {
        '/m2m/*': apiBehavior,
        '/api/*': apiBehavior,
      },
    });

    // The page plus a config.json for this deployment: this stack's project, and the API base the page calls
    // (PageApiBaseUrl; empty = same origin through CloudFront).
    new s3deploy.BucketDeployment(this, 'DeployPage', {
      destinationBucket: bucket,
      sources: [
        s3deploy.Source.asset(props.uiDir, { exclude: ['config.json'] }),
        s3deploy.Source.jsonData('config.json', { projectId: str('ProjectId'), apiBaseUrl: str('PageApiBaseUrl') }),
      ],
      distribution,
      distributionPaths: ['/*'],
      prune: true,
      memoryLimit: 256,
    });

    // ------------------------------------------------------------------ alarms and dashboard
    refs.HttpApi = api.apiId;
    addAlarms(this, str('AlarmTopicArn'), refs);
    const dashboard = addDashboard(this, refs);

    // ------------------------------------------------------------------ outputs
    Validations.of(this).acknowledge(
      {
        id: 'CloudFormation-Validate::W1001',
        reason: "SecretArn's Fn::If refers to DescopeSecret only in the CreateSecret branch, where it exists",
      },
      {
        id: 'CloudFormation-Validate::W1030',
        reason:
          "AlarmActions/OKActions name AlarmTopicArn only under HasAlarmTopic (its default '' never reaches them); " +
          'ApiDomain exists only with ApiDomainName set, when a rule requires ApiCertificateArn',
      },
      {
        id: 'CloudFormation-Validate::W2509',
        reason: 'ExistingSecretArn is the ARN of a secret, not secret material: NoEcho would only hide it',
      },
    );
    const apiUrl = Token.asString(
      ifCondition(hasApiDomain, Fn.sub('https://${ApiDomainName}'), `https://${executeApiDomain}`),
    );
    new CfnOutput(this, 'SiteUrl', {
      description: 'The page (and the API on the same origin)',
      value: `https://${distribution.distributionDomainName}`,
    });
    new CfnOutput(this, 'ApiUrl', {
      description: "The HTTP API's own endpoint (the custom domain when there is one); IAM callers sign their requests to it",
      value: apiUrl,
    });
    new CfnOutput(this, 'TokenIamUrl', {
      description: "POST here with SigV4 (service execute-api) to get a token for the stack's own key",
      value: Token.asString(
        ifCondition(
          hasApiDomain,
          Fn.sub('https://${ApiDomainName}/m2m/token/iam'),
          `https://${executeApiDomain}/m2m/token/iam`,
        ),
      ),
    });
    new CfnOutput(this, 'ApiDomainTarget', {
      description: "Point ApiDomainName's DNS here (CNAME, or a Route 53 alias)",
      value: apiDomain.attrRegionalDomainName,
    }).condition = hasApiDomain;
    new CfnOutput(this, 'BucketName', { description: 'The page bucket', value: bucket.bucketName });
    new CfnOutput(this, 'DistributionId', {
      description: 'For cloudfront create-invalidation',
      value: distribution.distributionId,
    });
    new CfnOutput(this, 'SecretArn', {
      description: 'The secret the token function reads (put-secret-value into it when created empty)',
      value: secretArn,
    });
    new CfnOutput(this, 'DashboardName', { description: 'The CloudWatch dashboard', value: dashboard.ref });
  }
}
