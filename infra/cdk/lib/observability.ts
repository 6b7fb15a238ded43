// Alarms and the dashboard: the same as the SAM template's (the drift check compares them alarm by alarm, and
// the dashboard body with infra/dashboard.json, its one source).
//
// The functions publish their own metrics as CloudWatch embedded metric format lines (no SDK call): namespace
// METRICS_NAMESPACE; `Requests` [Function, Outcome]; `Latency` (ms) [Function]; `JwksFetches`,
// `JwksFetchFailures`, `SecretReadFailures` [Function]. `Function` is the function's name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, CfnCondition, Fn, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { idOf } from './functions';
import { Parameters } from './parameters';

/** infra/ (this file is compiled to infra/cdk/build/lib/). */
export const INFRA_DIR = path.resolve(__dirname, '..', '..', '..');

const FIVE_MINUTES = 300;

interface AlarmSpec {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly props: Partial<cloudwatch.CfnAlarmProps>;
}

/** Which functions get which EMF alarm: every verifier fetches keys; the 503 and latency alarms watch the
 * functions that answer protected requests (and, for 503, the authorizer in front of them). */
export const JWKS_ALARM_FUNCTIONS = ['token', 'protected', 'user', 'admin', 'authorizer'];
export const KEYS_UNAVAILABLE_ALARM_FUNCTIONS = ['protected', 'user', 'admin', 'authorizer'];
export const LATENCY_ALARM_FUNCTIONS = ['protected', 'user', 'admin'];

export function addAlarms(
  scope: Construct,
  params: Parameters,
  functions: Record<string, lambda.Function>,
  apiId: string,
): cloudwatch.CfnAlarm[] {
  const hasTopic = new CfnCondition(scope, 'HasAlarmTopic', {
    expression: Fn.conditionNot(Fn.conditionEquals(params.AlarmTopicArn.valueAsString, '')),
  });
  const actions = Token.asList(Fn.conditionIf(hasTopic.logicalId, [params.AlarmTopicArn.valueAsString], Aws.NO_VALUE));
  const namespace = params.MetricsNamespace.valueAsString;
  const sum = (threshold: number | string, periods = 1) => ({
    statistic: 'Sum',
    period: FIVE_MINUTES,
    evaluationPeriods: periods,
    datapointsToAlarm: periods,
    threshold: threshold as number,
    comparisonOperator: 'GreaterThanOrEqualToThreshold',
  });

  const specs: AlarmSpec[] = [];
  for (const [name, fn] of Object.entries(functions)) {
    for (const metric of ['Errors', 'Throttles']) {
      specs.push({
        id: `${idOf(name)}${metric}Alarm`,
        name: `${name}-${metric.toLowerCase()}`,
        description:
          metric === 'Errors'
            ? `The ${name} function failed invocations (crash, timeout, out of memory) in 5 minutes.`
            : `The ${name} function was throttled (concurrency limit) in 5 minutes.`,
        props: {
          namespace: 'AWS/Lambda',
          metricName: metric,
          dimensions: [{ name: 'FunctionName', value: fn.functionName }],
          ...sum(1),
        },
      });
    }
  }
  for (const name of JWKS_ALARM_FUNCTIONS) {
    specs.push({
      id: `${idOf(name)}JwksFetchFailuresAlarm`,
      name: `${name}-jwks-fetch-failures`,
      description: `The ${name} function could not fetch the signing keys (JWKS) in 5 minutes.`,
      props: {
        namespace,
        metricName: 'JwksFetchFailures',
        dimensions: [{ name: 'Function', value: functions[name].functionName }],
        ...sum(1),
      },
    });
  }
  for (const name of KEYS_UNAVAILABLE_ALARM_FUNCTIONS) {
    specs.push({
      id: `${idOf(name)}KeysUnavailableAlarm`,
      name: `${name}-keys-unavailable`,
      description: `The ${name} function answered 503 (signing keys unavailable) in 5 minutes.`,
      props: {
        namespace,
        metricName: 'Requests',
        dimensions: [
          { name: 'Function', value: functions[name].functionName },
          { name: 'Outcome', value: 'keys_unavailable' },
        ],
        ...sum(1),
      },
    });
  }
  for (const name of LATENCY_ALARM_FUNCTIONS) {
    specs.push({
      id: `${idOf(name)}LatencyP99Alarm`,
      name: `${name}-latency-p99`,
      description: `p99 latency of the ${name} function above LatencyP99AlarmMilliseconds for 15 minutes.`,
      props: {
        namespace,
        metricName: 'Latency',
        dimensions: [{ name: 'Function', value: functions[name].functionName }],
        extendedStatistic: 'p99',
        period: FIVE_MINUTES,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        threshold: params.LatencyP99AlarmMilliseconds.valueAsNumber,
        comparisonOperator: 'GreaterThanThreshold',
      },
    });
  }
  const apiMetric = (id: string, metricName: string): cloudwatch.CfnAlarm.MetricDataQueryProperty => ({
    id,
    returnData: false,
    metricStat: {
      metric: { namespace: 'AWS/ApiGateway', metricName, dimensions: [{ name: 'ApiId', value: apiId }] },
      period: FIVE_MINUTES,
      stat: 'Sum',
    },
  });
  specs.push({
    id: 'Api5xxRateAlarm',
    name: 'api-5xx-rate',
    description: "More than Api5xxRateAlarmPercent % of the HTTP API's answers were 5xx in 5 minutes.",
    props: {
      metrics: [
        apiMetric('errors', '5xx'),
        apiMetric('requests', 'Count'),
        {
          id: 'rate',
          label: '5xx answers, % of requests',
          expression: 'IF(requests > 0, 100 * errors / requests, 0)',
          returnData: true,
        },
      ],
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: params.Api5xxRateAlarmPercent.valueAsNumber,
      comparisonOperator: 'GreaterThanThreshold',
    },
  });

  return specs.map(
    (spec) =>
      new cloudwatch.CfnAlarm(scope, spec.id, {
        // The stack name as a pseudo parameter (not the synth-time name): the same names as the SAM template's.
        alarmName: `${Aws.STACK_NAME}-${spec.name}`,
        alarmDescription: spec.description,
        treatMissingData: 'notBreaching',
        alarmActions: actions,
        okActions: actions,
        ...spec.props,
      } as cloudwatch.CfnAlarmProps),
  );
}

/** The dashboard; its body is infra/dashboard.json, a Fn::Sub template over the API id and function names. */
export function addDashboard(
  scope: Construct,
  functions: Record<string, lambda.Function>,
  apiId: string,
): cloudwatch.CfnDashboard {
  const body = fs.readFileSync(path.join(INFRA_DIR, 'dashboard.json'), 'utf8');
  const variables: Record<string, string> = { ApiId: apiId };
  for (const [name, fn] of Object.entries(functions)) variables[`${idOf(name)}FunctionName`] = fn.functionName;
  return new cloudwatch.CfnDashboard(scope, 'Dashboard', {
    dashboardName: `${Aws.STACK_NAME}-m2m`,
    dashboardBody: Fn.sub(body, variables),
  });
}
