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
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
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

/** The deployed functions: binary name (= cargo package), route, and whether it verifies tokens for an API. */
export const FUNCTIONS = [
  { name: 'token', path: '/m2m/token', description: 'POST /m2m/token - exchanges a Descope access key for a JWT' },
  { name: 'protected', path: '/api/protected', description: 'POST /api/protected - any valid token' },
  { name: 'user', path: '/api/user', description: 'POST /api/user - requires the read:data grant' },
  { name: 'admin', path: '/api/admin', description: 'POST /api/admin - requires the admin grant' },
] as const;

export type FunctionName = (typeof FUNCTIONS)[number]['name'];

/** The security headers CloudFront adds to every response (the page works under this CSP). */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export interface M2mStackProps extends StackProps {
  /** Folder with <name>/bootstrap.zip for every function (cargo lambda build --output-format zip --lambda-dir). */
  readonly lambdaDir: string;
  /** The static page (ui/). Its config.json is replaced by one generated for this deployment. */
  readonly uiDir: string;
}

export class M2mStack extends Stack {
  constructor(scope: Construct, id: string, props: M2mStackProps) {
    super(scope, id, props);

    // ------------------------------------------------------------------ parameters (same names as the SAM template)
    const projectId = new CfnParameter(this, 'ProjectId', {
      type: 'String',
      description: 'Descope project id (DESCOPE_PROJECT_ID). The only project whose tokens are accepted.',
      allowedPattern: '^[A-Za-z0-9_-]{1,128}$',
      constraintDescription: '1-128 characters of A-Za-z0-9_-',
    });
    const descopeBaseUrl = new CfnParameter(this, 'DescopeBaseUrl', {
      type: 'String',
      default: 'https://api.descope.com',
      description: 'Descope API base URL (DESCOPE_BASE_URL).',
      allowedPattern: '^https://[^\\s/]+(/[^\\s]*)?$',
      constraintDescription: 'an https:// URL',
    });
    const jwtAudience = new CfnParameter(this, 'JwtAudience', {
      type: 'String',
      default: '',
      description: 'When set, tokens must have an aud containing it (JWT_AUDIENCE); required with AUTH_PROVIDER=oidc.',
    });
    const allowOverride = new CfnParameter(this, 'AllowCredentialOverride', {
      type: 'String',
      default: 'false',
      allowedValues: ['true', 'false'],
      description: 'Accept projectId/accessKey in the token request body (ALLOW_CREDENTIAL_OVERRIDE).',
    });
    const jwtIssuers = new CfnParameter(this, 'JwtIssuers', {
      type: 'String',
      default: '',
      description: 'Extra accepted iss values, comma-separated (JWT_ISSUERS).',
    });
    const jwtAlgorithms = new CfnParameter(this, 'JwtAlgorithms', {
      type: 'String',
      default: 'RS256',
      description: 'Accepted signature algorithms, comma-separated (JWT_ALGORITHMS).',
    });
    const jwtLeeway = new CfnParameter(this, 'JwtLeewaySeconds', {
      type: 'Number',
      default: 5,
      minValue: 0,
      maxValue: 300,
      description: 'Clock skew allowed on exp/nbf (JWT_LEEWAY_SECONDS).',
    });
    const jwksCache = new CfnParameter(this, 'JwksCacheSeconds', {
      type: 'Number',
      default: 600,
      minValue: 1,
      maxValue: 86400,
      description: 'How long fetched signing keys are trusted (JWKS_CACHE_SECONDS).',
    });
    const secretCache = new CfnParameter(this, 'SecretCacheSeconds', {
      type: 'Number',
      default: 300,
      minValue: 0,
      maxValue: 86400,
      description: 'How long the token function reuses the secret it read (SECRET_CACHE_SECONDS).',
    });
    const corsOrigins = new CfnParameter(this, 'CorsAllowedOrigins', {
      type: 'String',
      default: '',
      description: 'Comma-separated extra browser origins (CORS_ALLOWED_ORIGINS). Empty = same origin only.',
    });
    const authProvider = new CfnParameter(this, 'AuthProvider', {
      type: 'String',
      default: 'descope',
      allowedValues: ['descope', 'oidc'],
      description: 'descope, or oidc for a standard OAuth 2.0 / OpenID Connect provider (AUTH_PROVIDER).',
    });
    const oidcIssuer = new CfnParameter(this, 'OidcIssuer', {
      type: 'String',
      default: '',
      description: 'The OIDC issuer when AuthProvider is oidc (OIDC_ISSUER).',
    });
    const accessKey = new CfnParameter(this, 'DescopeAccessKey', {
      type: 'String',
      noEcho: true,
      default: '',
      maxLength: 1024,
      allowedPattern: '^[!-~]*$',
      description:
        'Access key stored in the secret this stack creates. Leave empty and run `aws secretsmanager ' +
        'put-secret-value` after the deploy, or use ExistingSecretArn.',
    });
    const existingSecretArn = new CfnParameter(this, 'ExistingSecretArn', {
      type: 'String',
      default: '',
      allowedPattern: '^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)?$',
      description: 'Full ARN of a secret made with `aws secretsmanager create-secret`. Empty = this stack creates it.',
    });
    const rateLimit = new CfnParameter(this, 'ThrottlingRateLimit', {
      type: 'Number',
      default: 50,
      minValue: 1,
      description: 'Steady-state requests per second for every route of the HTTP API.',
    });
    const burstLimit = new CfnParameter(this, 'ThrottlingBurstLimit', {
      type: 'Number',
      default: 100,
      minValue: 1,
      description: 'Burst of requests for every route of the HTTP API.',
    });
    const retention = new CfnParameter(this, 'LogRetentionDays', {
      type: 'Number',
      default: '30',
      allowedValues: [
        '1', '3', '5', '7', '14', '30', '60', '90', '120', '150', '180', '365', '400', '545', '731', '1096',
        '1827', '2192', '2557', '2922', '3288', '3653',
      ],
      description: 'Retention of the function and access log groups.',
    });

    // ------------------------------------------------------------------ the secret (read by the token function only)
    const createSecret = new CfnCondition(this, 'CreateSecret', {
      expression: Fn.conditionEquals(existingSecretArn.valueAsString, ''),
    });
    const hasAccessKey = new CfnCondition(this, 'HasAccessKey', {
      expression: Fn.conditionNot(Fn.conditionEquals(accessKey.valueAsString, '')),
    });
    const secret = new secretsmanager.CfnSecret(this, 'DescopeSecret', {
      description: `Descope M2M default credentials for ${this.stackName}: {"projectId": "...", "accessKey": "..."}`,
      secretString: Token.asString(
        Fn.conditionIf(
          hasAccessKey.logicalId,
          Fn.sub('{"projectId":"${ProjectId}","accessKey":"${DescopeAccessKey}"}'),
          Fn.sub('{"projectId":"${ProjectId}","accessKey":""}'),
        ),
      ),
    });
    secret.cfnOptions.condition = createSecret;
    secret.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const secretArn = Token.asString(
      Fn.conditionIf(createSecret.logicalId, secret.ref, existingSecretArn.valueAsString),
    );

    // ------------------------------------------------------------------ functions
    const commonEnv: Record<string, string> = {
      DESCOPE_PROJECT_ID: projectId.valueAsString,
      DESCOPE_BASE_URL: descopeBaseUrl.valueAsString,
      JWT_ISSUERS: jwtIssuers.valueAsString,
      JWT_ALGORITHMS: jwtAlgorithms.valueAsString,
      JWT_LEEWAY_SECONDS: jwtLeeway.valueAsString,
      JWKS_CACHE_SECONDS: jwksCache.valueAsString,
      CORS_ALLOWED_ORIGINS: corsOrigins.valueAsString,
      AUTH_PROVIDER: authProvider.valueAsString,
      OIDC_ISSUER: oidcIssuer.valueAsString,
    };
    const extraEnv: Record<FunctionName, Record<string, string>> = {
      token: {
        DESCOPE_SECRET_ID: secretArn,
        SECRET_CACHE_SECONDS: secretCache.valueAsString,
        ALLOW_CREDENTIAL_OVERRIDE: allowOverride.valueAsString,
        // The token function verifies what it hands out by the protected functions' rules.
        JWT_AUDIENCE: jwtAudience.valueAsString,
      },
      protected: { JWT_AUDIENCE: jwtAudience.valueAsString },
      user: { JWT_AUDIENCE: jwtAudience.valueAsString },
      admin: { JWT_AUDIENCE: jwtAudience.valueAsString },
    };

    const api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Descope M2M routes (reached through CloudFront)',
    });
    const accessLogs = new logs.CfnLogGroup(this, 'HttpApiAccessLogGroup', {
      logGroupName: `/aws/vendedlogs/apigateway/${this.stackName}-http-api`,
      retentionInDays: retention.valueAsNumber,
    });
    accessLogs.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const stage = api.defaultStage!.node.defaultChild as apigwv2.CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: rateLimit.valueAsNumber,
      throttlingBurstLimit: burstLimit.valueAsNumber,
      detailedMetricsEnabled: false,
    };
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
        userAgent: '$context.identity.userAgent',
      }),
    };

    for (const spec of FUNCTIONS) {
      const zip = path.join(props.lambdaDir, spec.name, 'bootstrap.zip');
      if (!fs.existsSync(zip)) {
        throw new Error(
          `${zip} is missing: run \`infra/build-release.sh arm64\` first (or pass -c lambdaDir=<dir with ` +
            `<function>/bootstrap.zip>)`,
        );
      }
      const id = spec.name.charAt(0).toUpperCase() + spec.name.slice(1);
      const functionName = `${this.stackName}-${spec.name}`;

      const logGroup = new logs.LogGroup(this, `${id}LogGroup`, {
        logGroupName: `/aws/lambda/${functionName}`,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // The retention is a deploy-time parameter, which the L2 `retention` enum cannot hold.
      (logGroup.node.defaultChild as logs.CfnLogGroup).retentionInDays = retention.valueAsNumber;

      // Its own role: write to its own log group; the token function also reads the one secret. Nothing else.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description:
          spec.name === 'token'
            ? 'token function - its own log group and GetSecretValue on the one Descope secret'
            : `${spec.name} function - its own log group only`,
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

      const fn = new lambda.Function(this, `${id}Function`, {
        functionName,
        description: spec.description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(zip),
        memorySize: 128,
        timeout: Duration.seconds(10),
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.INFO,
        environment: { ...commonEnv, ...extraEnv[spec.name] },
      });

      api.addRoutes({
        path: spec.path,
        methods: [apigwv2.HttpMethod.POST],
        integration: new HttpLambdaIntegration(`${id}Integration`, fn, {
          payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        }),
      });
    }

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
        contentSecurityPolicy: { contentSecurityPolicy: CONTENT_SECURITY_POLICY, override: true },
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

    const apiDomain = `${api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: new origins.HttpOrigin(apiDomain, {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      }),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
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

    // The page plus a config.json for this deployment: same origin (apiBaseUrl ""), this stack's project.
    new s3deploy.BucketDeployment(this, 'DeployPage', {
      destinationBucket: bucket,
      sources: [
        s3deploy.Source.asset(props.uiDir, { exclude: ['config.json'] }),
        s3deploy.Source.jsonData('config.json', { projectId: projectId.valueAsString, apiBaseUrl: '' }),
      ],
      distribution,
      distributionPaths: ['/*'],
      prune: true,
      memoryLimit: 256,
    });

    // ------------------------------------------------------------------ outputs
    Validations.of(this).acknowledge(
      {
        id: 'CloudFormation-Validate::W1001',
        reason: "SecretArn's Fn::If refers to DescopeSecret only in the CreateSecret branch, where it exists",
      },
      {
        id: 'CloudFormation-Validate::W2509',
        reason: 'ExistingSecretArn is the ARN of a secret, not secret material: NoEcho would only hide it',
      },
    );
    new CfnOutput(this, 'SiteUrl', {
      description: 'The page (and the API on the same origin)',
      value: `https://${distribution.distributionDomainName}`,
    });
    new CfnOutput(this, 'ApiUrl', {
      description: "The HTTP API's own endpoint (the page uses the CloudFront origin instead)",
      value: `https://${apiDomain}`,
    });
    new CfnOutput(this, 'BucketName', { description: 'The page bucket', value: bucket.bucketName });
    new CfnOutput(this, 'DistributionId', {
      description: 'For cloudfront create-invalidation',
      value: distribution.distributionId,
    });
    new CfnOutput(this, 'SecretArn', {
      description: 'The secret the token function reads (put-secret-value into it when created empty)',
      value: secretArn,
    });
  }
}
